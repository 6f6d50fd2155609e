package proxy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const issuerKeyFile = "issuer-key.pem"

// issuerKey is the dev issuer's persisted ES256 signing key.
type issuerKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

var keyFileMu sync.Mutex // serializes create-if-missing of files in StateDir/gateway within a process

func gatewayDir(stateDir string) string { return filepath.Join(stateDir, "gateway") }

// loadOrCreateIssuerKey reads StateDir/gateway/issuer-key.pem, creating it on first use.
func loadOrCreateIssuerKey(stateDir string) (*issuerKey, error) {
	if stateDir == "" {
		return nil, errors.New("dev issuer: no state directory to keep the signing key in")
	}
	keyFileMu.Lock()
	defer keyFileMu.Unlock()
	path := filepath.Join(gatewayDir(stateDir), issuerKeyFile)
	priv, err := readECKey(path)
	if errors.Is(err, os.ErrNotExist) {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("dev issuer: generate key: %w", err)
		}
		if err := writeECKeyExclusive(path, priv); errors.Is(err, os.ErrExist) {
			// another process (devstack token, a second gateway) created it first: use theirs
			if priv, err = readECKey(path); err != nil {
				return nil, fmt.Errorf("dev issuer: %w", err)
			}
		} else if err != nil {
			return nil, fmt.Errorf("dev issuer: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("dev issuer: %w (delete the file to get a new key)", err)
	}
	return &issuerKey{priv: priv, kid: jwkThumbprint(&priv.PublicKey)}, nil
}

func readECKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := readPEMFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("read %s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		if ek, err2 := x509.ParseECPrivateKey(blk.Bytes); err2 == nil {
			return ek, nil
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("read %s: not an ECDSA key", path)
	}
	return ek, nil
}

// writeECKey writes a private key atomically with mode 0600.
func writeECKey(path string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// writeECKeyExclusive writes a new private key only if path does not exist yet (os.ErrExist),
// so two processes creating a key at once agree on one.
func writeECKeyExclusive(path string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600, true)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return writeFile(path, data, mode, false)
}

// writeFile writes via a temporary file, then renames it into place or, when exclusive, links it
// (which fails with os.ErrExist when path exists).
func writeFile(path string, data []byte, mode os.FileMode, exclusive bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if exclusive {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return os.ErrExist
			}
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// ecJWK returns the public JWK members of a P-256 key.
func ecJWK(pub *ecdsa.PublicKey) map[string]string {
	size := (pub.Curve.Params().BitSize + 7) / 8
	x := make([]byte, size)
	y := make([]byte, size)
	pub.X.FillBytes(x)
	pub.Y.FillBytes(y)
	return map[string]string{"kty": "EC", "crv": pub.Curve.Params().Name, "x": b64(x), "y": b64(y)}
}

// jwkThumbprint is the RFC 7638 thumbprint of an EC public key, used as kid.
func jwkThumbprint(pub *ecdsa.PublicKey) string {
	j := ecJWK(pub)
	s := fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, j["crv"], j["x"], j["y"])
	sum := sha256.Sum256([]byte(s))
	return b64(sum[:])
}

// jwks is the issuer's public key set.
func (k *issuerKey) jwks() []byte {
	j := ecJWK(&k.priv.PublicKey)
	key := map[string]string{"kty": "EC", "crv": j["crv"], "x": j["x"], "y": j["y"], "kid": k.kid, "alg": "ES256", "use": "sig"}
	b, _ := json.Marshal(map[string]any{"keys": []any{key}})
	return b
}

// sign issues a token.
func (k *issuerKey) sign(now time.Time, issuer, audience, sub string, scopes []string, ttl time.Duration, extra map[string]any) (string, error) {
	claims := jwt.MapClaims{
		"iss": issuer,
		"sub": sub,
		"aud": audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"jti": randomID(),
	}
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	for k, v := range extra {
		claims[k] = v
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.priv)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

func (k *issuerKey) public() crypto.PublicKey { return &k.priv.PublicKey }

// IssueToken signs a token offline with the persisted dev issuer key in stateDir/gateway (created if
// missing), as `devstack token` does, with issuer, audience and ttl as given (no default).
func IssueToken(stateDir string, issuer, audience, sub string, scopes []string, ttl time.Duration) (string, error) {
	if sub == "" {
		return "", errors.New("token: a subject (--sub) is required")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("token: the lifetime must be positive, got %s", ttl)
	}
	k, err := loadOrCreateIssuerKey(stateDir)
	if err != nil {
		return "", err
	}
	return k.sign(time.Now(), issuer, audience, sub, scopes, ttl, nil)
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return b64(b[:])
}

func bigFromB64(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}
