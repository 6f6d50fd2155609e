package testkit

import (
	"crypto/x509"
	"os"
	"testing"
)

// TestTLSFiles: the server certificate loads with its key and verifies against the CA for every host
// asked for, and for no other.
func TestTLSFiles(t *testing.T) {
	files := TLSFiles(t, t.TempDir(), "kafka.test", "127.0.0.1")
	pair := files.ServerConfig(t).Certificates[0]
	caPEM, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no PEM certificate", files.CA)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"kafka.test", true},
		{"127.0.0.1", true},
		{"other.test", false},
		{"127.0.0.2", false},
	} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if (err == nil) != tc.ok {
			t.Errorf("verify for %s: err=%v, want ok=%v", tc.host, err, tc.ok)
		}
	}
}
