package stack

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/postgres"
)

// Sources chooses the Infra of each component from broker.source and postgres.source: embedded, container
// or external. Container is the Infra that runs Docker containers (nil when no component needs one).
type Sources struct {
	Kafka    Infra
	Database Infra
}

// SourceInfra picks, per component, what starts it: the embedded one, container (the Docker Infra the
// caller made, used for source: container, and for source: embedded when containers is set, i.e.
// --containers), or an external cluster/server from devstack.yaml.
func SourceInfra(c *config.Config, containers bool, container Infra) (Sources, error) {
	pick := func(source string) (Infra, error) {
		switch {
		case source == config.SourceExternal:
			return External{Config: c}, nil
		case source == config.SourceContainer || (containers && source == config.SourceEmbedded):
			if container == nil {
				return nil, fmt.Errorf("internal error: no container infra for source %s", source)
			}
			return container, nil
		}
		return Embedded{}, nil
	}
	k, err := pick(c.Broker.Source)
	if err != nil {
		return Sources{}, err
	}
	d, err := pick(c.Postgres.Source)
	if err != nil {
		return Sources{}, err
	}
	return Sources{Kafka: k, Database: d}, nil
}

// NeedsContainers reports whether any component runs in Docker (source: container, or --containers for
// an embedded one).
func NeedsContainers(c *config.Config, containers bool) bool {
	need := func(source string) bool {
		return source == config.SourceContainer || (containers && source == config.SourceEmbedded)
	}
	return (c.BrokerEnabled() && need(c.Broker.Source)) || (c.PostgresEnabled() && need(c.Postgres.Source))
}

// split is Infra with a different implementation per component.
type split struct{ s Sources }

func (x split) StartKafka(ctx context.Context, o broker.Options) (Kafka, error) {
	return x.s.Kafka.StartKafka(ctx, o)
}

func (x split) StartDatabase(ctx context.Context, o postgres.Options) (Database, error) {
	return x.s.Database.StartDatabase(ctx, o)
}

// Infra combines the per-component choices into one Infra for Options.Infra.
func (s Sources) Infra() Infra { return split{s} }

// BrokerSecurity is SASL and TLS from broker.external (zero for the embedded and container brokers).
func BrokerSecurity(c *config.Config) broker.Security {
	e := c.Broker.External
	if !c.BrokerExternal() || e == nil {
		return broker.Security{}
	}
	var sec broker.Security
	if s := e.SASL; s != nil {
		sec.SASL = &broker.SASL{Mechanism: s.Mechanism, Username: s.Username, Password: s.Password}
	}
	if t := e.TLS; t.TLSOn() {
		sec.TLS = &broker.TLS{
			CAFile: absPath(c, t.CAFile), CertFile: absPath(c, t.CertFile), KeyFile: absPath(c, t.KeyFile),
			ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify,
		}
	}
	return sec
}

// BrokerBootstrap is the bootstrap list of an external broker (nil for the others).
func BrokerBootstrap(c *config.Config) []string {
	if !c.BrokerExternal() || c.Broker.External == nil {
		return nil
	}
	return append([]string(nil), c.Broker.External.BootstrapServers...)
}

// kafkaSecurityEnv are the variables that tell services how to reach an external broker with SASL or TLS
// (documented in docs/config.md, Sources). Empty for a plaintext broker.
func kafkaSecurityEnv(sec broker.Security) map[string]string {
	m := map[string]string{}
	if sec.SASL == nil && sec.TLS == nil {
		return m
	}
	m["KAFKA_SECURITY_PROTOCOL"] = sec.Protocol()
	if s := sec.SASL; s != nil {
		m["KAFKA_SASL_MECHANISM"] = s.Mechanism
		m["KAFKA_SASL_USERNAME"] = s.Username
		m["KAFKA_SASL_PASSWORD"] = s.Password
	}
	if t := sec.TLS; t != nil {
		set := func(k, v string) {
			if v != "" {
				m[k] = v
			}
		}
		set("KAFKA_TLS_CA_FILE", t.CAFile)
		set("KAFKA_TLS_CERT_FILE", t.CertFile)
		set("KAFKA_TLS_KEY_FILE", t.KeyFile)
		set("KAFKA_TLS_SERVER_NAME", t.ServerName)
		if t.InsecureSkipVerify {
			m["KAFKA_TLS_INSECURE_SKIP_VERIFY"] = "true"
		}
	}
	return m
}

// KafkaSecurityEnv is KEY=VALUE of the SASL/TLS variables services get for devstack.yaml c (none for a
// plaintext broker); `devstack test` gives them to test commands too.
func KafkaSecurityEnv(c *config.Config) []string {
	m := kafkaSecurityEnv(BrokerSecurity(c))
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// kafkaSecurityVar reports whether kafkaSecurityEnv may set k: such a variable is never inherited from
// devstack's own environment.
func kafkaSecurityVar(k string) bool {
	return k == "KAFKA_SECURITY_PROTOCOL" || strings.HasPrefix(k, "KAFKA_SASL_") || strings.HasPrefix(k, "KAFKA_TLS_")
}

// newStackAdmin is the admin client of the running broker k, with the external cluster's SASL and TLS.
// For the embedded broker its metrics carry the broker's own traffic counts too.
func newStackAdmin(c *config.Config, k Kafka, log *slog.Logger) (*broker.Admin, error) {
	a, err := broker.NewSecureAdmin(kafkaAddrs(k), BrokerSecurity(c), log)
	if b, ok := k.(*broker.Broker); ok && err == nil {
		b.AttachTraffic(a)
	}
	return a, err
}

// kafkaAddrs is k's bootstrap list: Addr is comma-separated for a cluster.
func kafkaAddrs(k Kafka) []string {
	var out []string
	for _, a := range strings.Split(k.Addr(), ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
