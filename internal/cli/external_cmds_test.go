package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// testCA writes a CA certificate to dir/ca.pem and returns a server certificate it signed for 127.0.0.1
// and the name "kafka.test".
func testCA(t *testing.T, dir string) (caFile string, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "devstack test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kafka.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"kafka.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

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
				_, cert := testCA(t, dir)
				opts = append(opts, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
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
