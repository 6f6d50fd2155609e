package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// TestExternalBrokerSASLAndTLS runs topic create, produce, consume and topics against a broker that
// demands SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and/or TLS, configured as broker.source: external.
func TestExternalBrokerSASLAndTLS(t *testing.T) {
	cases := []struct {
		name, mech string
		tls        bool
	}{
		{"plain", "PLAIN", false},
		{"scram-256-tls", "SCRAM-SHA-256", true},
		{"scram-512", "SCRAM-SHA-512", false},
		{"tls-only", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation()}
			if tc.mech != "" {
				opts = append(opts, kfake.EnableSASL(), kfake.Superuser(tc.mech, "app", "s3cret"))
			}
			if tc.tls {
				opts = append(opts, kfake.TLS(testkit.TLSFiles(t, dir, "kafka.test", "127.0.0.1").ServerConfig(t)))
			}
			c, err := kfake.NewCluster(opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			addr := c.ListenAddrs()[0]

			writeCfg := func(password string) string {
				y := fmt.Sprintf("name: ext\ncontrol: {port: %d}\nbroker:\n  source: external\n  external:\n    bootstrap_servers: [%q]\n", testkit.FreePort(t), addr)
				if tc.mech != "" {
					y += fmt.Sprintf("    sasl: {mechanism: %s, username: app, password: %q}\n", tc.mech, password)
				}
				if tc.tls {
					y += "    tls: {ca_file: ca.pem, server_name: kafka.test}\n"
				}
				p := filepath.Join(dir, "devstack-"+password+".yaml")
				if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			cfg := writeCfg("s3cret")
			mustCLI(t, "", "topic", "create", "orders", "--partitions", "2", "--file", cfg)
			_, errOut, err := runCLI(t, "k1:hello\nk2:world\n", "produce", "orders", "--key-separator", ":", "--file", cfg)
			if err != nil || !strings.Contains(errOut, "produced 2 records to orders") {
				t.Fatalf("produce: %v %s", err, errOut)
			}
			recs := decodeRecords(t, mustCLI(t, "", "consume", "orders", "--from-beginning", "--json", "--file", cfg))
			if len(recs) != 2 {
				t.Fatalf("consume: %+v", recs)
			}
			if out := mustCLI(t, "", "topics", "--rate-window=0", "--file", cfg); !strings.Contains(out, "orders") {
				t.Fatalf("topics:\n%s", out)
			}

			// the broker really checks: a wrong password (or plaintext against TLS) is refused
			if tc.mech != "" {
				_, _, err := runCLI(t, "", "topics", "--rate-window=0", "--file", writeCfg("wrong"))
				if err == nil || !strings.Contains(err.Error(), "the external broker at "+addr) {
					t.Fatalf("wrong password: %v", err)
				}
			}
			if tc.tls {
				_, _, err := runCLI(t, "", "topics", "--rate-window=0", "--brokers", addr)
				if err == nil {
					t.Fatal("a plaintext client reached the TLS broker")
				}
			}
		})
	}
}
