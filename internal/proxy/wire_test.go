package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
)

// rawUpstream accepts HTTP/1.1 requests on a socket and records each request's header lines exactly as
// they arrived on the wire, so framing mistakes that Go's lenient server would hide are visible.
func rawUpstream(t *testing.T) (addr string, heads chan textproto.MIMEHeader) {
	t.Helper()
	heads = make(chan textproto.MIMEHeader, 16)
	addr = serveRaw(t, func(c net.Conn) {
		tp := textproto.NewReader(bufio.NewReader(c))
		for {
			if _, err := tp.ReadLine(); err != nil { // request line
				return
			}
			h, err := tp.ReadMIMEHeader()
			if err != nil {
				return
			}
			heads <- h
			if strings.EqualFold(h.Get("Transfer-Encoding"), "chunked") {
				if _, err := io.Copy(io.Discard, httputil.NewChunkedReader(tp.R)); err != nil {
					return
				}
			} else if n, err := strconv.Atoi(h.Get("Content-Length")); err == nil {
				if _, err := tp.R.Discard(n); err != nil {
					return
				}
			}
			if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")); err != nil {
				return
			}
		}
	})
	return addr, heads
}

// Node's HTTP parser (llhttp) answers a request that carries Content-Length twice with a bare 400, so the
// gateway must frame bodies exactly once, whatever the client sent.
func TestBodyFramedOnce(t *testing.T) {
	addr, heads := rawUpstream(t)
	g := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "raw"}}}, nil)
	g.SetUpstreams("raw", []Upstream{{ID: "raw-0", Addr: addr, Ready: true}})
	tests := []struct {
		name, method, body string
		chunked            bool
	}{
		{name: "POST with Content-Length", method: http.MethodPost, body: `{"a":1}`},
		{name: "PUT with Content-Length", method: http.MethodPut, body: `{"b":2}`},
		{name: "POST chunked", method: http.MethodPost, body: `{"c":3}`, chunked: true},
		{name: "POST empty", method: http.MethodPost},
		{name: "GET", method: http.MethodGet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, g.base+"/x", nil)
			if tt.body != "" {
				req, _ = http.NewRequest(tt.method, g.base+"/x", strings.NewReader(tt.body))
				if tt.chunked {
					req.ContentLength = -1 // sent with Transfer-Encoding: chunked
					req.Body = io.NopCloser(struct{ io.Reader }{strings.NewReader(tt.body)})
				}
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			h := <-heads
			if n := len(h.Values("Content-Length")); n > 1 {
				t.Errorf("upstream got %d Content-Length headers: %q", n, h.Values("Content-Length"))
			}
			if h.Get("Content-Length") != "" && len(h.Values("Transfer-Encoding")) > 0 {
				t.Errorf("upstream got both Content-Length and Transfer-Encoding")
			}
			if tt.body != "" && h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" {
				t.Errorf("a request with a body reached the upstream without framing: %v", h)
			}
		})
	}
}
