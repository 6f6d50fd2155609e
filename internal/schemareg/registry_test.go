package schemareg

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/schemas"
)

// cluster starts an in-process Kafka (franz-go's kfake, the broker devstack embeds) for one test.
func cluster(t testing.TB) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SCHEMAREG_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// start starts a registry on c, on a free port, closed when the test ends.
func start(t testing.TB, c *kfake.Cluster) *Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Start(ctx, Options{
		Addr:          "127.0.0.1:0",
		Kafka:         []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)},
		Topic:         "_schemas",
		Compatibility: schemas.Backward,
		Logger:        testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		if n := r.panics.Load(); n > 0 {
			t.Errorf("%d requests panicked", n)
		}
	})
	return r
}

// do sends a request and returns the status and the decoded JSON body.
func do(t testing.TB, r *Registry, method, path, body string) (int, map[string]any, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, r.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != contentType {
		t.Errorf("%s %s: content type %q", method, path, ct)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, b
}

func TestStartConfigModeRestart(t *testing.T) {
	c := cluster(t)
	r := start(t, c)
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/config", "", 200, `{"compatibilityLevel":"BACKWARD"}`},
		{"PUT", "/config", `{"compatibility":"full"}`, 200, `{"compatibility":"FULL"}`},
		{"GET", "/config", "", 200, `{"compatibilityLevel":"FULL"}`},
		{"PUT", "/config", `{"compatibility":"SIDEWAYS"}`, 422, ""},
		{"GET", "/config/orders-value", "", 404, ""},
		{"GET", "/config/orders-value?defaultToGlobal=true", "", 200, `{"compatibilityLevel":"FULL"}`},
		{"PUT", "/config/orders-value", `{"compatibility":"NONE"}`, 200, `{"compatibility":"NONE"}`},
		{"GET", "/config/orders-value", "", 200, `{"compatibilityLevel":"NONE"}`},
		{"PUT", "/mode/orders-value", `{"mode":"READONLY"}`, 200, `{"mode":"READONLY"}`},
		{"GET", "/mode", "", 200, `{"mode":"READWRITE"}`},
		{"GET", "/schemas/types", "", 200, `["JSON","PROTOBUF","AVRO"]`},
		{"GET", "/subjects", "", 200, `[]`},
	} {
		status, _, b := do(t, r, tc.method, tc.path, tc.body)
		if status != tc.status || (tc.want != "" && string(b) != tc.want) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, status, b, tc.status, tc.want)
		}
	}
	r.Close()
	r = start(t, c)
	for path, want := range map[string]string{
		"/config":              `{"compatibilityLevel":"FULL"}`,
		"/config/orders-value": `{"compatibilityLevel":"NONE"}`,
		"/mode/orders-value":   `{"mode":"READONLY"}`,
	} {
		if _, _, b := do(t, r, "GET", path, ""); string(b) != want {
			t.Errorf("after a restart, GET %s: %s, want %s", path, b, want)
		}
	}
}

// TestFailed: when the broker goes away, Failed reports it.
func TestFailed(t *testing.T) {
	defer func(w, g time.Duration) { watchEvery, readerGiveUp = w, g }(watchEvery, readerGiveUp)
	watchEvery, readerGiveUp = 100*time.Millisecond, 500*time.Millisecond
	c := cluster(t)
	r := start(t, c)
	select {
	case err := <-r.Failed():
		t.Fatalf("failed with the broker up: %v", err)
	case <-time.After(time.Second):
	}
	c.Close()
	select {
	case err := <-r.Failed():
		if !strings.Contains(err.Error(), "_schemas") {
			t.Errorf("Failed: %v, want it to name the topic", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no failure 10s after the broker stopped")
	}
}

// TestListenerTaken: a port in use is said so.
func TestListenerTaken(t *testing.T) {
	c := cluster(t)
	r := start(t, c)
	_, err := Start(context.Background(), Options{Addr: r.Addr(), Kafka: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, Topic: "_schemas", Compatibility: schemas.Backward})
	if err == nil || !strings.Contains(err.Error(), r.Addr()) {
		t.Errorf("Start on a taken port: %v", err)
	}
}
