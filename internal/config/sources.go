package config

import (
	"net"
	"net/url"
	"os"
	"strconv"
)

// Where the broker and PostgreSQL come from (broker.source, postgres.source).
const (
	SourceEmbedded  = "embedded"  // kfake inside devstack; a PostgreSQL server devstack runs
	SourceContainer = "container" // real Kafka / PostgreSQL in Docker
	SourceExternal  = "external"  // an existing cluster or server devstack never starts or stops
)

// Sources are the allowed values of broker.source and postgres.source.
var Sources = []string{SourceEmbedded, SourceContainer, SourceExternal}

// SASL mechanisms an external broker may use.
var SASLMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// BrokerExternal reports whether the broker is an existing cluster (broker.source: external).
func (c *Config) BrokerExternal() bool { return c.Broker.Source == SourceExternal }

// PostgresExternal reports whether PostgreSQL is an existing server (postgres.source: external).
func (c *Config) PostgresExternal() bool { return c.Postgres.Source == SourceExternal }

func externalTLS(b *Broker) *KafkaTLS {
	if b.External == nil {
		return nil
	}
	return b.External.TLS
}

// TLSOn reports whether TLS is configured and enabled.
func (t *KafkaTLS) TLSOn() bool { return t != nil && (t.Enabled == nil || *t.Enabled) }

func validateSources(l *loader, c *Config) {
	b := c.Broker
	l.enum(b.Source, Sources, "broker.source")
	switch {
	case b.Source == SourceExternal && b.External == nil && c.BrokerEnabled():
		l.errf("broker.source", "broker.source is external but broker.external is missing: add broker.external.bootstrap_servers (host:port of the cluster)")
	case b.Source != SourceExternal && b.External != nil:
		l.keyErrf("broker.external", "broker.external is set but broker.source is %s: set broker.source: external to use that cluster, or remove broker.external", b.Source)
	case b.External != nil:
		validateBrokerExternal(l, b.External)
	}

	p := c.Postgres
	l.enum(p.Source, Sources, "postgres.source")
	switch {
	case p.Source == SourceExternal && (p.External == nil || p.External.AdminURL == "") && c.PostgresEnabled():
		path := "postgres.source"
		if p.External != nil {
			path = "postgres.external"
		}
		l.errf(path, "postgres.source is external but postgres.external.admin_url is missing: add the URL of a role that may create roles and databases (postgres://admin:${PGPASSWORD}@host:5432/postgres)")
	case p.Source != SourceExternal && p.External != nil:
		l.keyErrf("postgres.external", "postgres.external is set but postgres.source is %s: set postgres.source: external to use that server, or remove postgres.external", p.Source)
	case p.External != nil:
		validateAdminURL(l, "postgres.external.admin_url", p.External.AdminURL)
	}
}

func validateBrokerExternal(l *loader, e *BrokerExternal) {
	const bp = "broker.external.bootstrap_servers"
	if len(e.BootstrapServers) == 0 {
		l.errf(bp, "list at least one bootstrap server as host:port")
	}
	for i, a := range e.BootstrapServers {
		host, port, err := net.SplitHostPort(a)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			l.errf(index(bp, i), "must be host:port (e.g. kafka-1.internal:9092), got %q", a)
		}
	}
	if s := e.SASL; s != nil {
		const sp = "broker.external.sasl"
		l.enum(s.Mechanism, SASLMechanisms, sp+".mechanism", sp)
		if s.Username == "" {
			l.errf(sp+".username", "SASL needs a username")
		}
		if s.Password == "" {
			l.errf(sp+".password", "SASL needs a password (e.g. password: ${KAFKA_PASSWORD})")
		}
	}
	if t := e.TLS; t != nil {
		const tp = "broker.external.tls"
		for _, f := range []struct{ key, v string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
			if f.v == "" {
				continue
			}
			if st, err := os.Stat(l.rel(f.v)); err != nil || !st.Mode().IsRegular() {
				l.errf(tp+"."+f.key, "file %s does not exist", l.show(l.rel(f.v)))
			}
		}
		if (t.CertFile == "") != (t.KeyFile == "") {
			missing := "key_file"
			if t.CertFile == "" {
				missing = "cert_file"
			}
			l.errf(tp+"."+missing, "a client certificate needs both cert_file and key_file")
		}
		if !t.TLSOn() && (t.CAFile != "" || t.CertFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
			l.errf(tp+".enabled", "TLS is disabled but other tls settings are given: remove them or set enabled: true")
		}
	}
}

func validateAdminURL(l *loader, path, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		l.errf(path, "is not a valid URL (check for unescaped characters in the password: use %%XX escapes)")
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		l.errf(path, "must be a postgres:// URL (postgres://admin:secret@host:5432/postgres), got scheme %q", u.Scheme)
	case u.Hostname() == "":
		l.errf(path, "names no host: write postgres://admin:secret@host:5432/postgres")
	case u.User == nil || u.User.Username() == "":
		l.errf(path, "names no user: write postgres://admin:secret@host:5432/postgres")
	default:
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				l.errf(path, "port must be between 1 and 65535, got %q", p)
			}
		}
		if m := u.Query().Get("sslmode"); m != "" && !oneOf(m, "disable", "allow", "prefer", "require", "verify-ca", "verify-full") {
			l.errf(path, "sslmode must be one of disable|allow|prefer|require|verify-ca|verify-full, got %q", m)
		}
	}
}
