//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/twmb/franz-go/pkg/kgo"
)

type analyticsOrder struct {
	OrderID       string `json:"order_id"`
	UserID        string `json:"user_id"`
	TotalCents    int64  `json:"total_cents"`
	Scored        bool   `json:"scored"`
	Score         *int   `json:"score"`
	Decision      string `json:"decision"`
	CorrelationID string `json:"correlation_id"`
	Reasons       []struct {
		Rule string `json:"rule"`
	} `json:"reasons"`
}

type userStats struct {
	Orders int              `json:"orders"`
	Scored int              `json:"scored"`
	Recent []analyticsOrder `json:"recent"`
}

type summary struct {
	Orders      int              `json:"orders"`
	Scored      int              `json:"scored"`
	DeadLetters int              `json:"dead_letters"`
	Recent      []analyticsOrder `json:"recent"`
}

// wsClient collects order.scored pushes from /ws/orders.
type wsClient struct {
	mu     sync.Mutex
	scored map[string]analyticsOrder
	conn   *websocket.Conn
}

func dialOrders(t *testing.T, g *gw, token string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(g.base, "http") + "/ws/orders"
	conn, res, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", wsURL, err, status)
	}
	c := &wsClient{scored: map[string]analyticsOrder{}, conn: conn}
	var hello struct{ Type string }
	if err := readJSON(conn, &hello); err != nil || hello.Type != "hello" {
		t.Fatalf("first WebSocket message: %+v, %v; want hello", hello, err)
	}
	go func() {
		for {
			var msg struct {
				Type  string         `json:"type"`
				Order analyticsOrder `json:"order"`
			}
			if err := readJSON(conn, &msg); err != nil {
				return
			}
			if msg.Type == "order.scored" {
				c.mu.Lock()
				c.scored[msg.Order.OrderID] = msg.Order
				c.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "test done") })
	return c
}

func readJSON(conn *websocket.Conn, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, data, err := conn.Read(ctx)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func (c *wsClient) got(id string) (analyticsOrder, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.scored[id]
	return o, ok
}

// TestWorkflow: register -> login -> place orders -> users emits orders.placed -> scorer scores ->
// analytics stores both -> summary and per-user stats show it -> the WebSocket pushes it.
func TestWorkflow(t *testing.T) {
	g := gateway(t)
	analyst := g.clientToken(t)
	live := dialOrders(t, g, analyst) // before ordering: pushes are live, not replayed

	u := g.newUser(t, "workflow")
	var me struct{ ID, Email string }
	g.must(t, "GET", "/api/users/me", u.Token, nil, 200).json(t, &me)
	if me.ID != u.ID || me.Email != u.Email {
		t.Fatalf("/api/users/me = %+v, want %s %s", me, u.ID, u.Email)
	}

	small, smallReq := g.placeOrder(t, u, "book", 2, 1250)
	huge, _ := g.placeOrder(t, u, "tv", 1, 450000)
	if small.TotalCents != 2500 || small.Status != "placed" {
		t.Fatalf("placed order = %+v, want total 2500 and status placed", small)
	}

	var mine []order
	g.must(t, "GET", "/api/orders", u.Token, nil, 200).json(t, &mine)
	if len(mine) != 2 || mine[0].ID != huge.ID || mine[1].ID != small.ID {
		t.Fatalf("GET /api/orders = %+v, want the two orders newest first", mine)
	}

	var stats userStats
	eventually(t, 90*time.Second, "both orders scored in the per-user stats", func() (bool, string) {
		r, err := g.do(context.Background(), "GET", "/api/analytics/users/"+u.ID, analyst, nil)
		if err != nil || r.status != 200 {
			return false, fmt.Sprint(r, err)
		}
		stats = userStats{}
		r.json(t, &stats)
		return stats.Orders == 2 && stats.Scored == 2, string(r.body)
	})
	byID := map[string]analyticsOrder{}
	for _, o := range stats.Recent {
		byID[o.OrderID] = o
	}
	if o := byID[small.ID]; o.Decision != "approve" || o.UserID != u.ID {
		t.Errorf("small order in analytics = %+v, want approved for %s", o, u.ID)
	}
	if o := byID[huge.ID]; o.Decision == "approve" || len(o.Reasons) == 0 || o.Reasons[0].Rule != "huge_order" {
		t.Errorf("huge order in analytics = %+v, want review/reject because of huge_order", o)
	}
	if smallReq == "" {
		t.Errorf("the gateway answered POST /api/orders without an X-Request-Id")
	} else if byID[small.ID].CorrelationID != smallReq {
		t.Errorf("correlation id in analytics = %q, want the gateway's X-Request-Id %q", byID[small.ID].CorrelationID, smallReq)
	}

	var s summary
	g.must(t, "GET", "/api/analytics/summary", analyst, nil, 200).json(t, &s)
	if s.Orders < 2 || s.Scored < 2 {
		t.Errorf("summary = %+v, want at least our 2 scored orders", s)
	}

	eventually(t, 30*time.Second, "the WebSocket pushed both scored orders", func() (bool, string) {
		_, a := live.got(small.ID)
		_, b := live.got(huge.ID)
		return a && b, fmt.Sprintf("small pushed %v, huge pushed %v", a, b)
	})
}

// TestAuth: the gateway turns away missing, bad and under-scoped tokens.
func TestAuth(t *testing.T) {
	g := gateway(t)
	u := g.newUser(t, "auth")
	analyst := g.clientToken(t)
	body := map[string]any{"items": []map[string]any{{"sku": "x", "quantity": 1, "unitPriceCents": 1}}, "currency": "EUR"}
	tests := []struct {
		name, method, path, token string
		body                      any
		want                      int
	}{
		{"list orders without a token", "GET", "/api/orders", "", nil, 401},
		{"place an order without a token", "POST", "/api/orders", "", body, 401},
		{"garbage token", "GET", "/api/orders", "not.a.jwt", nil, 401},
		{"tampered token", "GET", "/api/orders", u.Token[:len(u.Token)-4] + "AAAA", nil, 401},
		{"analytics token on orders (wrong scope)", "GET", "/api/orders", analyst, nil, 403},
		{"analytics token placing an order (wrong scope)", "POST", "/api/orders", analyst, body, 403},
		{"user token on analytics (wrong scope)", "GET", "/api/analytics/summary", u.Token, nil, 403},
		{"analytics without a token", "GET", "/api/analytics/summary", "", nil, 401},
		{"profile without a token (checked by users itself)", "GET", "/api/users/me", "", nil, 401},
		{"user token on orders", "GET", "/api/orders", u.Token, nil, 200},
		{"analytics token on analytics", "GET", "/api/analytics/summary", analyst, nil, 200},
		{"invalid order is rejected by the service", "POST", "/api/orders", u.Token, map[string]any{"items": []any{}, "currency": "eur"}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.must(t, tt.method, tt.path, tt.token, tt.body, tt.want)
		})
	}
}

// TestRateLimit: a burst over the per-user limit of /api/orders (20/s, burst 40) gets 429s,
// and the limit is per user: another user is not affected.
func TestRateLimit(t *testing.T) {
	g := gateway(t)
	greedy, other := g.newUser(t, "greedy"), g.newUser(t, "patient")
	var ok, limited, otherStatus atomic.Int64
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				r, err := g.do(context.Background(), "GET", "/api/orders", greedy.Token, nil)
				switch {
				case err != nil:
				case r.status == 200:
					ok.Add(1)
				case r.status == 429:
					limited.Add(1)
				}
			}
		}()
	}
	for range 200 {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	r, err := g.do(context.Background(), "GET", "/api/orders", other.Token, nil)
	if err == nil {
		otherStatus.Store(int64(r.status))
	}
	t.Logf("burst of 200: %d ok, %d rate limited", ok.Load(), limited.Load())
	if limited.Load() == 0 {
		t.Fatalf("no 429 in a burst of 200 requests")
	}
	if ok.Load() < 40 {
		t.Fatalf("only %d requests passed; the burst allowance is 40", ok.Load())
	}
	if ok.Load()+limited.Load() != 200 {
		t.Fatalf("%d requests failed otherwise", 200-ok.Load()-limited.Load())
	}
	if otherStatus.Load() != 200 {
		t.Fatalf("another user got %d while the greedy one was limited; want 200", otherStatus.Load())
	}
}

// TestPoisonMessage: bad JSON on orders.placed lands in orders.dlq and the pipeline keeps flowing.
func TestPoisonMessage(t *testing.T) {
	g := gateway(t)
	brokers := strings.Split(requireEnv(t, "KAFKA_BROKERS", "the broker of the stack under test"), ",")
	analyst := g.clientToken(t)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics("orders.dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Uncompressed, like the scorer: kafkajs consumers cannot read franz-go's default snappy.
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	marker := "poison-" + randomHex(8)
	poison := []byte(`{"order_id": "` + marker + `", this is not JSON`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = cl.ProduceSync(ctx, &kgo.Record{
		Topic: "orders.placed", Key: []byte(marker), Value: poison,
		Headers: []kgo.RecordHeader{{Key: "correlation-id", Value: []byte(marker)}},
	}).FirstErr()
	if err != nil {
		t.Fatalf("produce the poison message: %v", err)
	}

	// The dead letter on the broker, as the scorer wrote it.
	var dl struct {
		SourceTopic   string `json:"source_topic"`
		Value         string `json:"value"`
		Error         string `json:"error"`
		ConsumerGroup string `json:"consumer_group"`
	}
	found := false
	dctx, dcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer dcancel()
	for !found {
		fs := cl.PollFetches(dctx)
		if dctx.Err() != nil {
			t.Fatalf("no dead letter for the poison message on orders.dlq within 60s")
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) != marker {
				return
			}
			found = true
			if err := json.Unmarshal(r.Value, &dl); err != nil {
				t.Fatalf("dead letter is not JSON: %s", r.Value)
			}
		})
	}
	if dl.SourceTopic != "orders.placed" || dl.Value != string(poison) || dl.Error == "" {
		t.Fatalf("dead letter = %+v", dl)
	}

	// analytics stored it too (it consumes orders.dlq) ...
	eventually(t, 60*time.Second, "the dead letter in analytics", func() (bool, string) {
		r, err := g.do(context.Background(), "GET", "/api/analytics/dead-letters", analyst, nil)
		if err != nil || r.status != 200 {
			return false, fmt.Sprint(r, err)
		}
		return strings.Contains(string(r.body), marker), "not listed yet"
	})

	// ... and an order placed after the poison message is still scored.
	u := g.newUser(t, "after-poison")
	o, _ := g.placeOrder(t, u, "lamp", 1, 3999)
	g.waitScored(t, analyst, o.ID, "an order placed after the poison message is scored")
}

// TestWebSocketAuth: the gateway checks the token of the WebSocket upgrade like any other request.
func TestWebSocketAuth(t *testing.T) {
	g := gateway(t)
	u := g.newUser(t, "ws-auth")
	wsURL := "ws" + strings.TrimPrefix(g.base, "http") + "/ws/orders"
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"user token without analytics:read", u.Token, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			h := http.Header{}
			if tt.token != "" {
				h.Set("Authorization", "Bearer "+tt.token)
			}
			conn, res, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
			if err == nil {
				conn.Close(websocket.StatusNormalClosure, "")
				t.Fatalf("WebSocket upgrade succeeded; want HTTP %d", tt.want)
			}
			if res == nil || res.StatusCode != tt.want {
				t.Fatalf("dial: %v (response %v); want HTTP %d", err, res, tt.want)
			}
		})
	}
}
