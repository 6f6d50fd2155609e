package proxy

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The dev issuer's POST /oauth/token is throttled like a login form: every failed client or user
// authentication takes one token from a bucket of tokenFailBurst, refilled over tokenFailWindow.
// The bucket is the client's (or user's) when the id is a configured one, else the remote
// address's, so guessing secrets for one client never locks out another, and a flood of made-up
// ids only slows that address. While a bucket is empty the endpoint answers 429 with Retry-After
// without looking at the secret (else the lockout would still answer the guess); once the
// failures stop, the right secret works again within tokenFailWindow. Successes cost nothing.
const (
	tokenFailBurst  = 10
	tokenFailWindow = time.Minute
	tokenFailKeys   = 10000 // buckets kept at most; full ones are dropped first
)

type failThrottle struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*rate.Limiter
}

func newFailThrottle(now func() time.Time) *failThrottle {
	return &failThrottle{now: now, m: map[string]*rate.Limiter{}}
}

// retryAfter returns how long key must wait before its next attempt, 0 when it may try now.
func (t *failThrottle) retryAfter(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.m[key]
	if l == nil {
		return 0
	}
	tokens := l.TokensAt(t.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(tokenFailWindow) / tokenFailBurst)
}

// fail records a failed attempt for key.
func (t *failThrottle) fail(key string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.m[key]
	if l == nil {
		if len(t.m) >= tokenFailKeys {
			for k, x := range t.m {
				if x.TokensAt(now) >= tokenFailBurst {
					delete(t.m, k)
				}
			}
			if len(t.m) >= tokenFailKeys {
				t.m = map[string]*rate.Limiter{} // all under attack: start over rather than grow
			}
		}
		l = rate.NewLimiter(rate.Every(tokenFailWindow/tokenFailBurst), tokenFailBurst)
		t.m[key] = l
	}
	l.AllowN(now, 1)
}

// retryAfterSeconds is a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
