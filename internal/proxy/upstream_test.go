package proxy

import (
	"strings"
	"testing"
	"time"
)

// Once the supervisor says no instance of a service is coming (it gave up, was stopped), requests to
// it get 503 at once instead of after wait_ready; a later start clears that and requests wait again.
func TestNoInstanceComing503AtOnce(t *testing.T) {
	gw := startGateway(t, Config{WaitReady: 30 * time.Second, Routes: []Route{{Path: "/", Service: "orders"}}}, nil)

	// a request already waiting ends when the service gives up
	done := make(chan resp, 1)
	start := time.Now()
	go func() { done <- do(t, "GET", gw.base+"/", nil, nil) }()
	time.Sleep(100 * time.Millisecond)
	gw.SetNoneComing("orders", "it failed")
	select {
	case r := <-done:
		if r.status != 503 || !strings.Contains(string(r.body), "none is coming (it failed)") {
			t.Errorf("waiting request: %d %s", r.status, r.body)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("waiting request took %s", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting request was not answered after the service gave up (wait_ready 30s)")
	}

	// a new request does not wait at all
	start = time.Now()
	r := do(t, "GET", gw.base+"/", nil, nil)
	if took := time.Since(start); r.status != 503 || took > time.Second {
		t.Errorf("new request: %d after %s: %s", r.status, took, r.body)
	}

	// the service starts again: requests wait for its instance
	gw.SetNoneComing("orders", "")
	u := upstream(t, "orders")
	go func() { done <- do(t, "GET", gw.base+"/", nil, nil) }()
	time.Sleep(300 * time.Millisecond)
	gw.SetUpstreams("orders", []Upstream{{ID: "o", Addr: hostOf(u), Ready: true}})
	if r := <-done; r.status != 200 {
		t.Fatalf("request after the restart: %d %s", r.status, r.body)
	}
}
