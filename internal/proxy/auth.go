package proxy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// principal is what a verified token says.
type principal struct {
	sub          string
	scopes       []string
	scopesHeader string   // space-separated, forwarded as X-Auth-Scopes
	subHdr       []string // header values, built once per verified token (read-only)
	scopesHdr    []string
	claims       jwt.MapClaims
	exp          time.Time
	nbf, iat     time.Time // zero when absent
	cachedUntil  time.Time // re-verify after this (key rotation)
}

func (p *principal) hasScope(s string) bool { return slices.Contains(p.scopes, s) }

// verifier checks bearer tokens against configured keys, the dev issuer key and JWKS endpoints.
type verifier struct {
	issuer, audience string
	leeway           time.Duration
	now              func() time.Time
	static           []verKey // secret / PEM / dev issuer keys
	jwks             []*jwksSource
	methods          []string

	cache     atomic.Pointer[sync.Map] // raw token -> *principal
	cacheSize atomic.Int64
	parser    *jwt.Parser
}

// verKey is one verification key with its allowed algorithms.
type verKey struct {
	kid  string
	algs []string
	key  any
}

const (
	tokenCacheMax = 10000
	tokenCacheTTL = time.Minute
	jwksMinGap    = 10 * time.Second // at most one refresh per JWKS source per this long
	jwksMaxAge    = time.Hour
)

var errNoToken = errors.New("no token")

func newVerifier(a Auth, dev *issuerKey, now func() time.Time) (*verifier, error) {
	v := &verifier{issuer: a.Issuer, audience: a.Audience, leeway: a.Leeway, now: now}
	methods := map[string]bool{}
	if dev != nil && !a.DevIssuer.Disabled {
		v.static = append(v.static, verKey{kid: dev.kid, algs: []string{"ES256"}, key: dev.public()})
		methods["ES256"] = true
	}
	for i, k := range a.Keys {
		for _, m := range k.Algorithms {
			methods[m] = true
		}
		switch {
		case k.Secret != "":
			v.static = append(v.static, verKey{kid: k.ID, algs: k.Algorithms, key: []byte(k.Secret)})
		case k.PEMFile != "":
			pub, err := readPublicKeyPEM(k.PEMFile)
			if err != nil {
				return nil, fmt.Errorf("gateway.auth.keys[%d].pem_file: %w", i, err)
			}
			if err := keyMatchesAlgs(pub, k.Algorithms); err != nil {
				return nil, fmt.Errorf("gateway.auth.keys[%d]: %w", i, err)
			}
			v.static = append(v.static, verKey{kid: k.ID, algs: k.Algorithms, key: pub})
		case k.JWKSURL != "":
			v.jwks = append(v.jwks, &jwksSource{url: k.JWKSURL, algs: k.Algorithms, kid: k.ID, now: now,
				client: &http.Client{Timeout: 5 * time.Second}})
		}
	}
	for m := range methods {
		v.methods = append(v.methods, m)
	}
	slices.Sort(v.methods)
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(v.methods),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.leeway),
		jwt.WithTimeFunc(now),
	)
	v.cache.Store(&sync.Map{})
	return v, nil
}

// cached returns the principal of an already verified token that is still valid now, or nil. It
// never blocks (no key fetch), so the gateway's event loops can call it.
func (v *verifier) cached(raw string) *principal {
	if e, ok := v.cache.Load().Load(raw); ok {
		if p := e.(*principal); v.valid(p, v.now()) {
			return p
		}
	}
	return nil
}

// valid reports whether a verified principal may still be used at now: not past its cache time and
// within exp/nbf/iat as the parser would check them.
func (v *verifier) valid(p *principal, now time.Time) bool {
	return now.Before(p.cachedUntil) && v.timeValid(p, now)
}

// refusal names the first of the route's required scopes or claims p lacks; refused is false when
// p has them all.
func (rt *route) refusal(p *principal) (scope, claim string, refused bool) {
	for _, s := range rt.Scopes {
		if !p.hasScope(s) {
			return s, "", true
		}
	}
	for k, want := range rt.Claims {
		if got := fmt.Sprint(p.claims[k]); p.claims[k] == nil || got != want {
			return "", k, true
		}
	}
	return "", "", false
}

// verify returns the principal of a valid token. Cached results are re-checked against the clock
// exactly as the parser would (exp, nbf, iat with leeway), so the cache never accepts what
// verification would reject.
func (v *verifier) verify(ctx context.Context, raw string) (*principal, error) {
	now := v.now()
	m := v.cache.Load()
	if e, ok := m.Load(raw); ok {
		p := e.(*principal)
		if v.valid(p, now) {
			return p, nil
		}
		m.Delete(raw)
		v.cacheSize.Add(-1)
	}
	p, err := v.verifySlow(ctx, raw)
	if err != nil {
		return nil, err
	}
	p.cachedUntil = now.Add(tokenCacheTTL)
	if v.cacheSize.Add(1) > tokenCacheMax {
		v.cache.Store(&sync.Map{})
		v.cacheSize.Store(1)
		m = v.cache.Load()
	}
	m.Store(raw, p)
	return p, nil
}

func (v *verifier) timeValid(p *principal, now time.Time) bool {
	if !now.Before(p.exp.Add(v.leeway)) {
		return false
	}
	if !p.nbf.IsZero() && now.Before(p.nbf.Add(-v.leeway)) {
		return false
	}
	if !p.iat.IsZero() && now.Before(p.iat.Add(-v.leeway)) {
		return false
	}
	return true
}

func (v *verifier) verifySlow(ctx context.Context, raw string) (*principal, error) {
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) { return v.keysFor(ctx, t) })
	if err != nil {
		if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
			if missing := v.missingClaims(claims); len(missing) > 0 {
				return nil, missingClaimsError(missing)
			}
		}
		return nil, describeJWTError(err)
	}
	// RFC 7515 section 4.1.11: a recipient that does not understand every extension named in
	// "crit" must refuse the token. devstack understands none (golang-jwt ignores the header).
	if c, ok := tok.Header["crit"]; ok {
		return nil, fmt.Errorf("token header lists critical extensions (crit: %s) that devstack does not understand", critNames(c))
	}
	p := &principal{claims: claims}
	p.sub, _ = claims["sub"].(string)
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		p.exp = exp.Time
	} else {
		return nil, errors.New("token has no exp")
	}
	if nbf, err := claims.GetNotBefore(); err == nil && nbf != nil {
		p.nbf = nbf.Time
	}
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		p.iat = iat.Time
	}
	p.scopes = scopesOf(claims)
	p.scopesHeader = strings.Join(p.scopes, " ")
	// sub and scopes are forwarded as header values: refuse what could split or corrupt a header
	if !safeHeaderValue(p.sub) || !safeHeaderValue(p.scopesHeader) {
		return nil, errors.New("token sub or scope contains control characters")
	}
	p.subHdr, p.scopesHdr = []string{p.sub}, []string{p.scopesHeader}
	return p, nil
}

// missingClaims names the required claims (exp always, iss and aud when configured) a token
// lacks, sorted.
func (v *verifier) missingClaims(c jwt.MapClaims) []string {
	var out []string
	if aud, err := c.GetAudience(); v.audience != "" && (err != nil || len(aud) == 0) {
		out = append(out, "aud")
	}
	if exp, err := c.GetExpirationTime(); err != nil || exp == nil {
		out = append(out, "exp")
	}
	if iss, err := c.GetIssuer(); v.issuer != "" && (err != nil || iss == "") {
		out = append(out, "iss")
	}
	return out
}

func missingClaimsError(names []string) error {
	if len(names) == 1 {
		return fmt.Errorf("token lacks a required claim (%s)", names[0])
	}
	return fmt.Errorf("token lacks required claims (%s)", strings.Join(names, ", "))
}

// critNames renders a crit header value for an error message (any JSON, kept short and printable).
func critNames(v any) string {
	var parts []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			parts = append(parts, fmt.Sprint(x))
		}
	} else {
		parts = append(parts, fmt.Sprint(v))
	}
	s := strings.Join(parts, ", ")
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	if s == "" {
		s = "empty"
	}
	return strconv.Quote(s)
}

func safeHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// scopesOf reads "scope" (space-separated string) or "scp"/"scopes" (array or string).
func scopesOf(c jwt.MapClaims) []string {
	var out []string
	for _, name := range []string{"scope", "scp", "scopes"} {
		switch s := c[name].(type) {
		case string:
			out = append(out, strings.Fields(s)...)
		case []any:
			for _, x := range s {
				if str, ok := x.(string); ok && str != "" && !strings.ContainsAny(str, " \t\r\n") {
					out = append(out, str)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func describeJWTError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errors.New("token is malformed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errors.New("token signature is invalid")
	case errors.Is(err, jwt.ErrTokenExpired):
		return errors.New("token is expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errors.New("token is not valid yet")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errors.New("token used before issued")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return errors.New("token has the wrong issuer")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errors.New("token has the wrong audience")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errors.New("token lacks a required claim")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		var ke *keyError
		if errors.As(err, &ke) {
			return ke
		}
		return errors.New("token cannot be verified")
	}
	return errors.New("token is invalid")
}

type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }

// keysFor picks the keys that may verify t: matching kid, and whose allow-list contains t's alg.
// The parser's WithValidMethods has already refused algorithms no key allows (none included).
func (v *verifier) keysFor(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, _ := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	add := func(k verKey) {
		// A key without an id answers to any kid (its signature still has to verify).
		if k.kid != kid && k.kid != "" {
			return
		}
		if slices.Contains(k.algs, alg) && keyFitsAlg(k.key, alg) {
			set.Keys = append(set.Keys, k.key)
		}
	}
	for _, k := range v.static {
		add(k)
	}
	for _, src := range v.jwks {
		for _, k := range src.keys(ctx, kid) {
			add(k)
		}
	}
	if len(set.Keys) == 0 {
		if kid != "" {
			return nil, &keyError{fmt.Sprintf("no key for kid %q and alg %s", kid, alg)}
		}
		return nil, &keyError{fmt.Sprintf("no key for alg %s", alg)}
	}
	return set, nil
}

// keyFitsAlg is a second guard against key confusion: an HMAC alg only ever gets a secret, an
// asymmetric alg only the matching public key type.
func keyFitsAlg(key any, alg string) bool {
	switch algFamily(alg) {
	case "HS":
		_, ok := key.([]byte)
		return ok
	case "RS", "PS":
		_, ok := key.(*rsa.PublicKey)
		return ok
	case "ES":
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		return k.Curve == want
	case "EdDSA":
		_, ok := key.(ed25519.PublicKey)
		return ok
	}
	return false
}

func keyMatchesAlgs(pub crypto.PublicKey, algs []string) error {
	for _, a := range algs {
		if !keyFitsAlg(pub, a) {
			return fmt.Errorf("algorithm %s does not fit the key type %T", a, pub)
		}
	}
	return nil
}

func readPublicKeyPEM(path string) (crypto.PublicKey, error) {
	b, err := readPEMFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block found")
	}
	switch blk.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(blk.Bytes)
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key or certificate (never configure a private key here)", blk.Type)
}

// jwksSource is a cached JWKS endpoint, refreshed when a token names an unknown kid (at most once
// per jwksMinGap) or when older than jwksMaxAge.
type jwksSource struct {
	url    string
	kid    string // optional: only this kid is taken from the set
	algs   []string
	now    func() time.Time
	client *http.Client

	mu      sync.Mutex
	set     []verKey
	fetched time.Time // last attempt
	ok      bool      // at least one successful fetch
	fetches atomic.Int64
}

func (s *jwksSource) keys(ctx context.Context, kid string) []verKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	has := func() bool {
		for _, k := range s.set {
			if kid == "" || k.kid == kid {
				return true
			}
		}
		return false
	}
	stale := !s.ok || now.Sub(s.fetched) > jwksMaxAge
	if (stale || !has()) && (s.fetched.IsZero() || now.Sub(s.fetched) >= jwksMinGap) {
		s.fetched = now
		s.fetches.Add(1)
		if set, err := s.fetch(ctx); err == nil {
			s.set, s.ok = set, true
		}
	}
	return s.set
}

func (s *jwksSource) fetch(ctx context.Context) ([]verKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks %s: status %d", s.url, res.StatusCode)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("jwks %s: %w", s.url, err)
	}
	var out []verKey
	for _, j := range doc.Keys {
		if use, _ := j["use"].(string); use != "" && use != "sig" {
			continue
		}
		kid, _ := j["kid"].(string)
		if s.kid != "" && kid != s.kid {
			continue
		}
		pub, err := parseJWK(j)
		if err != nil {
			continue
		}
		algs := s.algs
		if a, _ := j["alg"].(string); a != "" {
			if !slices.Contains(s.algs, a) {
				continue
			}
			algs = []string{a}
		}
		out = append(out, verKey{kid: kid, algs: algs, key: pub})
	}
	return out, nil
}

// parseJWK decodes an RSA, EC or OKP (Ed25519) public JWK. Symmetric keys are never taken from JWKS.
func parseJWK(j map[string]any) (any, error) {
	str := func(k string) string { s, _ := j[k].(string); return s }
	switch str("kty") {
	case "RSA":
		n, err1 := bigFromB64(str("n"))
		e, err2 := bigFromB64(str("e"))
		if err1 != nil || err2 != nil || n.Sign() == 0 || !e.IsInt64() {
			return nil, errors.New("bad RSA JWK")
		}
		if n.BitLen() < 2048 {
			return nil, errors.New("RSA key shorter than 2048 bits")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		var curve elliptic.Curve
		switch str("crv") {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, errors.New("unsupported curve")
		}
		x, err1 := bigFromB64(str("x"))
		y, err2 := bigFromB64(str("y"))
		if err1 != nil || err2 != nil {
			return nil, errors.New("bad EC JWK")
		}
		pub := &ecdsa.PublicKey{Curve: curve, X: x, Y: y}
		if !curve.IsOnCurve(x, y) {
			return nil, errors.New("EC point not on curve")
		}
		return pub, nil
	case "OKP":
		if str("crv") != "Ed25519" {
			return nil, errors.New("unsupported OKP curve")
		}
		x, err := base64.RawURLEncoding.DecodeString(str("x"))
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 JWK")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, errors.New("unsupported kty")
}
