package proxy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Files of the local development CA and the gateway's certificate in StateDir/gateway.
const (
	CAFile       = "ca.pem"
	caKeyFile    = "ca-key.pem"
	certFile     = "cert.pem"
	certKeyFile  = "cert-key.pem"
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 397 * 24 * time.Hour // browsers cap leaf lifetimes at 398 days
	leafRenew    = 30 * 24 * time.Hour
)

// CAPath is where the development CA certificate is kept.
func CAPath(stateDir string) string { return filepath.Join(gatewayDir(stateDir), CAFile) }

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// EnsureCA loads the development CA from stateDir/gateway, generating it on first use, and returns
// the path of its certificate (PEM). The CA is kept: regenerating it would break every trust store
// it was added to.
func EnsureCA(stateDir string) (string, error) {
	if _, err := loadOrCreateCA(stateDir); err != nil {
		return "", err
	}
	return CAPath(stateDir), nil
}

func loadOrCreateCA(stateDir string) (*ca, error) {
	keyFileMu.Lock()
	defer keyFileMu.Unlock()
	dir := gatewayDir(stateDir)
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile)
	certPEM, err := readPEMFile(certPath)
	if err == nil {
		key, kerr := readECKey(keyPath)
		if kerr != nil {
			return nil, fmt.Errorf("tls: CA key: %w (delete %s to generate a new CA, then trust it again)", kerr, dir)
		}
		blk, _ := pem.Decode(certPEM)
		if blk == nil {
			return nil, fmt.Errorf("tls: %s: no PEM block", certPath)
		}
		cert, perr := x509.ParseCertificate(blk.Bytes)
		if perr != nil {
			return nil, fmt.Errorf("tls: %s: %w", certPath, perr)
		}
		return &ca{cert: cert, key: key, pem: certPEM}, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tls: read CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tls: generate CA key: %w", err)
	}
	host, _ := os.Hostname()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{Organization: []string{"devstack development CA"}, CommonName: "devstack dev CA " + host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("tls: create CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeECKeyExclusive(keyPath, key); errors.Is(err, os.ErrExist) {
		// another process is creating the CA: wait for its certificate and use that
		for i := 0; i < 50; i++ {
			if _, err := os.Stat(certPath); err == nil {
				keyFileMu.Unlock()
				c, err := loadOrCreateCA(stateDir)
				keyFileMu.Lock()
				return c, err
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil, fmt.Errorf("tls: %s exists without %s; delete %s to generate a new CA", keyPath, certPath, dir)
	} else if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if err := writeFileAtomic(certPath, certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &ca{cert: cert, key: key, pem: certPEM}, nil
}

func randSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// certHosts is the sorted, de-duplicated list of names a leaf must cover.
func certHosts(extra []string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	for _, h := range extra {
		h = strings.TrimSpace(strings.ToLower(h))
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String()
		}
		if h != "" {
			hosts = append(hosts, h)
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

// ensureLeaf returns the gateway's certificate, reissuing it when hosts change, it nears expiry or
// it was not signed by the current CA.
func ensureLeaf(stateDir string, extra []string, now time.Time) (*tls.Certificate, error) {
	authority, err := loadOrCreateCA(stateDir)
	if err != nil {
		return nil, err
	}
	keyFileMu.Lock()
	defer keyFileMu.Unlock()
	dir := gatewayDir(stateDir)
	certPath, keyPath := filepath.Join(dir, certFile), filepath.Join(dir, certKeyFile)
	want := certHosts(extra)
	if c, err := loadKeyPair(certPath, keyPath); err == nil && c.Leaf != nil {
		if leafCovers(c.Leaf, want) && now.Add(leafRenew).Before(c.Leaf.NotAfter) &&
			c.Leaf.CheckSignatureFrom(authority.cert) == nil {
			return &c, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tls: generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{Organization: []string{"devstack development certificate"}, CommonName: want[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range want {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, authority.cert, &key.PublicKey, authority.key)
	if err != nil {
		return nil, fmt.Errorf("tls: issue certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	// use the pair from memory: another process may be writing its own pair to the files
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls: new certificate: %w", err)
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if err := writeFileAtomic(certPath, certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &c, nil
}

// loadKeyPair is tls.LoadX509KeyPair reading through readPEMFile.
func loadKeyPair(certPath, keyPath string) (tls.Certificate, error) {
	certPEM, err := readPEMFile(certPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readPEMFile(keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

func leafCovers(c *x509.Certificate, hosts []string) bool {
	var have []string
	have = append(have, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		have = append(have, ip.String())
	}
	slices.Sort(have)
	return slices.Equal(have, hosts)
}

// CAFingerprint returns the SHA-256 fingerprint of a PEM certificate file, for display.
func CAFingerprint(path string) (string, error) {
	b, err := readPEMFile(path)
	if err != nil {
		return "", err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return "", fmt.Errorf("%s: no PEM block", path)
	}
	sum := sha256.Sum256(blk.Bytes)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var out bytes.Buffer
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			out.WriteByte(':')
		}
		out.WriteString(h[i : i+2])
	}
	return out.String(), nil
}
