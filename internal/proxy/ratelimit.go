package proxy

import (
	"hash/maphash"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a keyed token bucket (x/time/rate) with an injectable clock.
type limiter struct {
	name      string // policy name in RateLimit headers
	limit     rate.Limit
	burst     int
	keyKind   string // ip, sub, header, global
	header    string // canonical header name for header:NAME
	now       func() time.Time
	policyHdr string   // precomputed RateLimit-Policy value
	policyVal []string // the same as a header value (read-only)
	quota     int
	window    int // seconds

	shards [16]limShard
	seed   maphash.Seed
}

type limShard struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

const limShardMax = 4096

func newLimiter(name string, rl *RateLimit, now func() time.Time) *limiter {
	per, burst := rl.Per, rl.Burst // validated: per > 0, burst >= 1
	perSec := rl.Requests / per.Seconds()
	l := &limiter{name: name, limit: rate.Limit(perSec), burst: burst, now: now, seed: maphash.MakeSeed()}
	switch {
	case rl.Key == "" || rl.Key == "ip":
		l.keyKind = "ip"
	case rl.Key == "sub" || rl.Key == "global":
		l.keyKind = rl.Key
	case strings.HasPrefix(rl.Key, "header:"):
		l.keyKind, l.header = "header", http.CanonicalHeaderKey(strings.TrimPrefix(rl.Key, "header:"))
	}
	l.quota = int(math.Ceil(rl.Requests))
	l.window = max(1, int(math.Ceil(per.Seconds())))
	l.policyHdr = `"` + name + `";q=` + strconv.Itoa(l.quota) + ";w=" + strconv.Itoa(l.window)
	l.policyVal = []string{l.policyHdr}
	for i := range l.shards {
		l.shards[i].m = map[string]*rate.Limiter{}
	}
	return l
}

// key is the bucket a request counts against.
func (l *limiter) key(r *http.Request, ip string, p *principal) string {
	switch l.keyKind {
	case "global":
		return ""
	case "sub":
		if p != nil && p.sub != "" {
			return "sub:" + p.sub
		}
	case "header":
		if v := r.Header.Get(l.header); v != "" {
			return "h:" + v
		}
	}
	return ip
}

func (l *limiter) bucket(key string) *rate.Limiter {
	sh := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	sh.mu.Lock()
	b := sh.m[key]
	if b == nil {
		if len(sh.m) >= limShardMax {
			now := l.now()
			for k, v := range sh.m {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(sh.m, k)
				}
			}
		}
		b = rate.NewLimiter(l.limit, l.burst)
		sh.m[key] = b
	}
	sh.mu.Unlock()
	return b
}

// take takes a token for key and reports whether the request may pass, the tokens left and the
// seconds until the bucket is full again (on refusal: until a token is there, at least 1).
func (l *limiter) take(key string) (ok bool, remaining, reset int) {
	b := l.bucket(key)
	now := l.now()
	ok = b.AllowN(now, 1)
	tokens := b.TokensAt(now)
	remaining = max(0, int(math.Floor(tokens)))
	if tokens < 1 {
		reset = int(math.Ceil((1-tokens)/float64(l.limit) - 1e-9))
	} else {
		reset = int(math.Ceil((float64(l.burst)-tokens)/float64(l.limit) - 1e-9))
	}
	reset = max(reset, 0)
	if !ok {
		reset = max(reset, 1)
	}
	return ok, remaining, reset
}

// appendValue appends the RateLimit header value for a take result.
func (l *limiter) appendValue(v []byte, remaining, reset int) []byte {
	v = append(v, '"')
	v = append(v, l.name...)
	v = append(v, `";r=`...)
	v = strconv.AppendInt(v, int64(remaining), 10)
	v = append(v, ";t="...)
	return strconv.AppendInt(v, int64(reset), 10)
}

// appendLines takes a token for key and appends the RateLimit-Policy and RateLimit header lines
// (and Retry-After on refusal) to b, for responses the gateway writes itself.
func (l *limiter) appendLines(b []byte, key string) ([]byte, bool) {
	ok, remaining, reset := l.take(key)
	b = append(b, "Ratelimit-Policy: "...)
	b = append(b, l.policyHdr...)
	b = append(b, "\r\nRatelimit: "...)
	b = l.appendValue(b, remaining, reset)
	b = append(b, "\r\n"...)
	if !ok {
		b = append(b, "Retry-After: "...)
		b = strconv.AppendInt(b, int64(reset), 10)
		b = append(b, "\r\n"...)
	}
	return b, ok
}

// allow takes a token for key, sets the RateLimit headers and reports whether the request may pass.
// On refusal it also sets Retry-After.
func (l *limiter) allow(h http.Header, key string) bool {
	ok, remaining, reset := l.take(key)
	var buf [96]byte
	v := l.appendValue(buf[:0], remaining, reset)
	if prev := h["Ratelimit-Policy"]; len(prev) > 0 {
		h["Ratelimit-Policy"] = append(prev[:len(prev):len(prev)], l.policyHdr)
		h["Ratelimit"] = append(h["Ratelimit"][:len(h["Ratelimit"]):len(h["Ratelimit"])], string(v))
	} else {
		h["Ratelimit-Policy"] = l.policyVal
		h["Ratelimit"] = []string{string(v)}
	}
	if !ok {
		h["Retry-After"] = []string{strconv.Itoa(reset)}
	}
	return ok
}
