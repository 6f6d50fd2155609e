package risk

import (
	"fmt"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/sample-services/scorer/internal/events"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func order(n int, user string, at time.Time, qty, price int64) events.OrderPlaced {
	return events.OrderPlaced{
		SchemaVersion: 1,
		OrderID:       fmt.Sprintf("00000000-0000-4000-8000-%012d", n),
		UserID:        user,
		Items:         []events.Item{{SKU: "sku-1", Quantity: qty, UnitPriceCents: price}},
		TotalCents:    qty * price,
		Currency:      "EUR",
		PlacedAt:      at,
	}
}

const alice = "11111111-1111-4111-8111-111111111111"
const bob = "22222222-2222-4222-8222-222222222222"

func rules(s events.OrderScored) []string {
	var out []string
	for _, r := range s.Reasons {
		out = append(out, r.Rule)
	}
	return out
}

func TestScoreSingleOrder(t *testing.T) {
	tests := []struct {
		name     string
		order    events.OrderPlaced
		score    int
		decision string
		rules    []string
	}{
		{"small order is approved", order(1, alice, t0, 2, 1_999), 0, Approve, nil},
		{"large order", order(1, alice, t0, 1, 60_000), 20, Approve, []string{"large_order"}},
		{"huge order goes to review", order(1, alice, t0, 1, 250_000), 45, Review, []string{"huge_order"}},
		{"bulk units", order(1, alice, t0, 60, 100), 15, Approve, []string{"bulk_quantity"}},
		{"huge bulk order is rejected", order(1, alice, t0, 100, 5_000), 85, Reject, []string{"huge_order", "bulk_quantity", "window_spend"}},
		{"total that doesn't match the items", func() events.OrderPlaced {
			o := order(1, alice, t0, 1, 1_000)
			o.TotalCents = 1
			return o
		}(), 30, Approve, []string{"total_mismatch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := New(DefaultConfig()).Score(tt.order, t0.Add(time.Second))
			if got.Score != tt.score || got.Decision != tt.decision || fmt.Sprint(rules(got)) != fmt.Sprint(tt.rules) {
				t.Fatalf("got score %d %s %v, want %d %s %v", got.Score, got.Decision, rules(got), tt.score, tt.decision, tt.rules)
			}
			if got.Window.Orders != 1 || got.Window.SpendCents != tt.order.TotalCents {
				t.Fatalf("window = %+v, want 1 order of %d", got.Window, tt.order.TotalCents)
			}
			if got.OrderID != tt.order.OrderID || got.UserID != tt.order.UserID || !got.ScoredAt.Equal(t0.Add(time.Second)) {
				t.Fatalf("identity not carried over: %+v", got)
			}
		})
	}
}

func TestSlidingWindow(t *testing.T) {
	s := New(DefaultConfig())
	// Alice orders every minute; velocity kicks in at the 3rd order, a burst at the 6th.
	wantRules := []string{"", "", "order_velocity", "order_velocity", "order_velocity", "order_burst"}
	for i, want := range wantRules {
		got := s.Score(order(i, alice, t0.Add(time.Duration(i)*time.Minute), 1, 100), t0)
		if got.Window.Orders != i+1 {
			t.Fatalf("order %d: window has %d orders, want %d", i, got.Window.Orders, i+1)
		}
		if r := fmt.Sprint(rules(got)); (want == "" && r != "[]") || (want != "" && r != "["+want+"]") {
			t.Fatalf("order %d: rules %s, want %q", i, r, want)
		}
	}
	// Bob is tracked separately.
	if got := s.Score(order(100, bob, t0, 1, 100), t0); got.Window.Orders != 1 {
		t.Fatalf("bob's window = %+v, want 1 order", got.Window)
	}
	// 20 minutes later only the new order is in alice's window.
	if got := s.Score(order(200, alice, t0.Add(30*time.Minute), 1, 100), t0); got.Window.Orders != 1 || got.Score != 0 {
		t.Fatalf("after the window: %+v score %d, want 1 order and score 0", got.Window, got.Score)
	}
}

func TestRedeliveryCountsOnce(t *testing.T) {
	s := New(DefaultConfig())
	o := order(1, alice, t0, 1, 100)
	first := s.Score(o, t0)
	again := s.Score(o, t0)
	if first.Window != again.Window || again.Window.Orders != 1 {
		t.Fatalf("redelivered order changed the window: %+v then %+v", first.Window, again.Window)
	}
}

func TestOutOfOrderDelivery(t *testing.T) {
	s := New(DefaultConfig())
	s.Score(order(2, alice, t0.Add(5*time.Minute), 1, 100), t0)
	// An order placed earlier but delivered later sees only what came before it.
	if got := s.Score(order(1, alice, t0, 1, 100), t0); got.Window.Orders != 1 {
		t.Fatalf("window = %+v, want only the order itself", got.Window)
	}
}

func TestMaxUsersEvictsLeastRecentlySeen(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxUsers = 2
	s := New(cfg)
	s.Score(order(1, alice, t0, 1, 100), t0)
	s.Score(order(2, bob, t0.Add(time.Minute), 1, 100), t0)
	s.Score(order(3, "33333333-3333-4333-8333-333333333333", t0.Add(2*time.Minute), 1, 100), t0)
	if s.Users() != 2 {
		t.Fatalf("users = %d, want 2", s.Users())
	}
	if got := s.Score(order(4, alice, t0.Add(3*time.Minute), 1, 100), t0); got.Window.Orders != 1 {
		t.Fatalf("alice should have been forgotten, window = %+v", got.Window)
	}
}
