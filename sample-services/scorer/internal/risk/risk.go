// Package risk scores orders from a set of rules and a sliding window of each user's recent orders.
package risk

import (
	"fmt"
	"sync"
	"time"

	"github.com/devstack-dev/devstack/sample-services/scorer/internal/events"
)

// Decisions, by rising risk.
const (
	Approve = "approve"
	Review  = "review"
	Reject  = "reject"
)

// Config holds the thresholds of the rules. The zero value is not useful: start from DefaultConfig.
type Config struct {
	Window          time.Duration `json:"-"`                  // how far back a user's orders count
	WindowSeconds   int64         `json:"window_seconds"`     // Window, as shown in /api/scorer/rules
	MaxUsers        int           `json:"max_users"`          // users tracked at once; the least recently seen are forgotten first
	LargeOrderCents int64         `json:"large_order_cents"`  // an order above this is large
	HugeOrderCents  int64         `json:"huge_order_cents"`   // an order above this is huge
	BulkQuantity    int64         `json:"bulk_quantity"`      // more units than this in one order is a bulk order
	VelocityOrders  int           `json:"velocity_orders"`    // this many orders in the window (this one included) is suspicious
	BurstOrders     int           `json:"burst_orders"`       // this many is a burst
	WindowSpend     int64         `json:"window_spend_cents"` // spend in the window above this is suspicious
	ReviewAt        int           `json:"review_at"`          // score >= ReviewAt: review
	RejectAt        int           `json:"reject_at"`          // score >= RejectAt: reject
}

// DefaultConfig is what the scorer runs with unless told otherwise.
func DefaultConfig() Config {
	c := Config{
		Window:          10 * time.Minute,
		MaxUsers:        100_000,
		LargeOrderCents: 50_000,
		HugeOrderCents:  200_000,
		BulkQuantity:    50,
		VelocityOrders:  3,
		BurstOrders:     6,
		WindowSpend:     300_000,
		ReviewAt:        40,
		RejectAt:        70,
	}
	c.WindowSeconds = int64(c.Window / time.Second)
	return c
}

type entry struct {
	at    time.Time
	order string
	cents int64
}

type userWindow struct {
	entries  []entry
	lastSeen time.Time
}

// Scorer is safe for concurrent use. Its window is in memory: records of one user share a key and so a
// partition, so the member of the consumer group that owns the partition sees all of that user's orders.
type Scorer struct {
	cfg   Config
	mu    sync.Mutex
	users map[string]*userWindow
}

// New returns a Scorer with cfg.
func New(cfg Config) *Scorer {
	return &Scorer{cfg: cfg, users: make(map[string]*userWindow)}
}

// Score rates o and records it in its user's window. The window is measured in order time (placed_at),
// so replaying a topic gives the same scores; an order seen twice (redelivery) is counted once.
func (s *Scorer) Score(o events.OrderPlaced, now time.Time) events.OrderScored {
	win := s.observe(o)
	reasons := make([]events.Reason, 0, 4)
	add := func(rule string, points int, format string, args ...any) {
		reasons = append(reasons, events.Reason{Rule: rule, Points: points, Detail: fmt.Sprintf(format, args...)})
	}

	switch {
	case o.TotalCents > s.cfg.HugeOrderCents:
		add("huge_order", 45, "total %s above %s", cents(o.TotalCents), cents(s.cfg.HugeOrderCents))
	case o.TotalCents > s.cfg.LargeOrderCents:
		add("large_order", 20, "total %s above %s", cents(o.TotalCents), cents(s.cfg.LargeOrderCents))
	}
	var units int64
	for _, it := range o.Items {
		units += it.Quantity
	}
	if units > s.cfg.BulkQuantity {
		add("bulk_quantity", 15, "%d units in one order (more than %d)", units, s.cfg.BulkQuantity)
	}
	switch {
	case win.Orders >= s.cfg.BurstOrders:
		add("order_burst", 40, "%d orders in %s", win.Orders, s.cfg.Window)
	case win.Orders >= s.cfg.VelocityOrders:
		add("order_velocity", 20, "%d orders in %s", win.Orders, s.cfg.Window)
	}
	if win.SpendCents > s.cfg.WindowSpend {
		add("window_spend", 25, "%s spent in %s (more than %s)", cents(win.SpendCents), s.cfg.Window, cents(s.cfg.WindowSpend))
	}
	if computed := lineTotal(o.Items); computed != o.TotalCents {
		add("total_mismatch", 30, "total %s differs from the items' sum %s", cents(o.TotalCents), cents(computed))
	}

	score := 0
	for _, r := range reasons {
		score += r.Points
	}
	score = min(max(score, 0), 100)
	decision := Approve
	switch {
	case score >= s.cfg.RejectAt:
		decision = Reject
	case score >= s.cfg.ReviewAt:
		decision = Review
	}
	return events.OrderScored{
		SchemaVersion: events.SchemaVersion,
		OrderID:       o.OrderID,
		UserID:        o.UserID,
		Score:         score,
		Decision:      decision,
		Reasons:       reasons,
		TotalCents:    o.TotalCents,
		Currency:      o.Currency,
		Window:        win,
		PlacedAt:      o.PlacedAt,
		ScoredAt:      now.UTC(),
	}
}

// observe adds o to its user's window and returns the window after pruning, o included.
func (s *Scorer) observe(o events.OrderPlaced) events.Window {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[o.UserID]
	if !ok {
		if len(s.users) >= s.cfg.MaxUsers {
			s.evictOldestLocked()
		}
		u = &userWindow{}
		s.users[o.UserID] = u
	}
	at := o.PlacedAt
	if at.After(u.lastSeen) {
		u.lastSeen = at
	}
	seen := false
	for _, e := range u.entries {
		if e.order == o.OrderID {
			seen = true
			break
		}
	}
	if !seen {
		u.entries = append(u.entries, entry{at: at, order: o.OrderID, cents: o.TotalCents})
	}
	// Keep what lies within Window before the newest order of this user.
	cutoff := u.lastSeen.Add(-s.cfg.Window)
	kept := u.entries[:0]
	for _, e := range u.entries {
		if e.at.After(cutoff) {
			kept = append(kept, e)
		}
	}
	u.entries = kept
	win := events.Window{Seconds: int64(s.cfg.Window / time.Second)}
	for _, e := range u.entries {
		if !e.at.After(at) { // the window as of this order: later orders (out of order delivery) don't count
			win.Orders++
			win.SpendCents += e.cents
		}
	}
	if win.Orders == 0 { // o itself is older than the window kept: count it alone
		win.Orders, win.SpendCents = 1, o.TotalCents
	}
	return win
}

func (s *Scorer) evictOldestLocked() {
	var oldestID string
	var oldest time.Time
	for id, u := range s.users {
		if oldestID == "" || u.lastSeen.Before(oldest) {
			oldestID, oldest = id, u.lastSeen
		}
	}
	delete(s.users, oldestID)
}

// Forget drops every user's window, e.g. when the partitions they live on are revoked.
func (s *Scorer) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.users)
}

// Users reports how many users have a window.
func (s *Scorer) Users() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}

func lineTotal(items []events.Item) int64 {
	var t int64
	for _, it := range items {
		t += it.Quantity * it.UnitPriceCents
	}
	return t
}

func cents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }
