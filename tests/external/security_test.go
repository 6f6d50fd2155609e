//go:build linux

package external_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// writeKeystore writes ca.pem and a PEM keystore (PKCS#8 key, then the certificate for 127.0.0.1 and
// kafka.test and the CA that signed it) into dir, and returns the keystore's path.
func writeKeystore(t *testing.T, dir string) string {
	t.Helper()
	files := testkit.TLSFiles(t, dir, "kafka.test", "127.0.0.1")
	var ks []byte
	for _, f := range []string{files.Key, files.Cert, files.CA} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, b...)
	}
	p := filepath.Join(dir, "keystore.pem")
	if err := os.WriteFile(p, ks, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLIOnRealKafkaWithSASLAndTLS: devstack's topic create, produce, consume and topics against Apache
// Kafka's own SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), SSL and SASL_SSL listeners, configured
// as broker.source: external; a wrong password is refused.
func TestCLIOnRealKafkaWithSASLAndTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache Kafka")
	}
	bin := devstackBin(t)
	dir := t.TempDir()
	keystore := writeKeystore(t, dir)
	ports := map[string]int{"SASL_PLAINTEXT": testkit.FreePort(t), "SSL": testkit.FreePort(t), "SASL_SSL": testkit.FreePort(t)}
	var props strings.Builder
	props.WriteString("sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n")
	props.WriteString("ssl.keystore.type=PEM\nssl.keystore.location=" + keystore + "\n")
	for _, l := range []string{"sasl_plaintext", "sasl_ssl"} {
		fmt.Fprintf(&props, "listener.name.%s.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_app=\"app-secret\";\n", l)
		for _, m := range []string{"scram-sha-256", "scram-sha-512"} {
			fmt.Fprintf(&props, "listener.name.%s.%s.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n", l, m)
		}
	}
	startKafkaWith(t, kafkaExtra{
		listeners: ports,
		props:     props.String(),
		format:    []string{"--add-scram", "SCRAM-SHA-256=[name=app,password=app-secret]", "--add-scram", "SCRAM-SHA-512=[name=app,password=app-secret]"},
	})

	devstack := func(stdin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct {
		name, listener, mech string
		tls                  bool
	}{
		{"plain", "SASL_PLAINTEXT", "PLAIN", false},
		{"scram-sha-256", "SASL_PLAINTEXT", "SCRAM-SHA-256", false},
		{"scram-sha-512-over-tls", "SASL_SSL", "SCRAM-SHA-512", true},
		{"tls", "SSL", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", ports[tc.listener])
			cfg := func(password string) string {
				y := fmt.Sprintf("name: sec\ncontrol: {port: %d}\ntelemetry: {http_port: 0, grpc_port: 0}\nbroker:\n  source: external\n  external:\n    bootstrap_servers: [%q]\n", testkit.FreePort(t), addr)
				if tc.mech != "" {
					y += fmt.Sprintf("    sasl: {mechanism: %s, username: app, password: %q}\n", tc.mech, password)
				}
				if tc.tls {
					y += "    tls: {ca_file: ca.pem, server_name: kafka.test}\n"
				}
				p := filepath.Join(dir, tc.name+"-"+password+".yaml")
				if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			good := cfg("app-secret")
			topic := "t-" + tc.name
			for _, step := range []struct {
				stdin string
				args  []string
				want  string
			}{
				{"", []string{"topic", "create", topic, "--partitions", "2"}, ""},
				{"k1:first\nk2:second\n", []string{"produce", topic, "--key-separator", ":"}, "produced 2 records to " + topic},
				{"", []string{"consume", topic, "--from-beginning", "-n", "2"}, "second"},
				{"", []string{"topics", "--rate-window=0"}, topic},
			} {
				out, err := devstack(step.stdin, append(step.args, "--file", good)...)
				if err != nil || !strings.Contains(out, step.want) {
					t.Fatalf("devstack %s: %v\n%s", strings.Join(step.args, " "), err, out)
				}
			}
			if tc.mech != "" {
				out, err := devstack("", "topics", "--rate-window=0", "--file", cfg("wrong"))
				if err == nil || !strings.Contains(out, "the external broker at "+addr) {
					t.Fatalf("a wrong password was not refused: %v\n%s", err, out)
				}
			}
		})
	}
}
