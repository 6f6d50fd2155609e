package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A request head ending in bare LFs is answered at once, as net/http answers it, instead of
// waiting on the event loop for a CRLF CRLF that never comes.
func TestBareLFRequestHeadIsAnswered(t *testing.T) {
	up := upstream(t, "a")
	gw := startGateway(t, Config{HeaderTimeout: 30 * time.Second, Routes: []Route{{Path: "/api", Service: "a"}}}, nil)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	for _, req := range []string{
		"GET /api/x HTTP/1.1\nHost: x\n\n",
		"GET /api/x HTTP/1.1\r\nHost: x\n\r\n",
		"GET /api/x HTTP/1.1\r\nHost: x\r\n\n",
	} {
		t.Run(strings.ReplaceAll(strings.ReplaceAll(req, "\r", `\r`), "\n", `\n`), func(t *testing.T) {
			c := dialGateway(t, gw.Addr(), 5*time.Second)
			start := time.Now()
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer after %s: %v", time.Since(start).Round(time.Millisecond), err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("status %d, want 200 (net/http reads bare LF heads)", res.StatusCode)
			}
		})
	}
}

// A chunked request body that is not valid chunked coding is the client's mistake: 400, not 502.
func TestMalformedChunkedBodyIs400(t *testing.T) {
	addr, _ := rawUpstream(t)
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "raw"}}}, nil)
	gw.SetUpstreams("raw", []Upstream{{ID: "raw-0", Addr: addr, Ready: true}})
	for name, body := range map[string]string{
		"bad size":            "zz\r\nhello\r\n0\r\n\r\n",
		"size without CRLF":   "5\rhello\r\n0\r\n\r\n",
		"data longer":         "2\r\nhello\r\n0\r\n\r\n",
		"huge size":           "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
		"bad byte after data": "5\r\nhelloXX0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			out := rawRequest(t, gw.Addr(), "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
			res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
			if err != nil {
				t.Fatalf("no HTTP answer: %q", out)
			}
			if res.StatusCode != 400 {
				t.Errorf("status %d, want 400: %q", res.StatusCode, out)
			}
		})
	}
}

// RFC 9112 section 6.1: after a request with both Content-Length and Transfer-Encoding the
// connection is closed, so a request smuggled behind it in the same bytes is never served. (net/http
// hides the Content-Length from the handler, so any request with a Transfer-Encoding closes.)
func TestLengthAndChunkedClosesConnection(t *testing.T) {
	up := upstream(t, "a")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/api", Service: "a"}, {Path: "/private", Service: "a", Auth: "required"}}}, nil)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	next := "GET /api/second HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"forwarded", "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200},
		{"length first", "POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200},
		{"answered by the gateway", "POST /private/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 401},
		{"no route", "POST /none HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 404},
		{"chunked alone", "POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialGateway(t, gw.Addr(), 5*time.Second)
			if _, err := io.WriteString(c, tc.req+next); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			if !res.Close {
				t.Errorf("the answer does not say Connection: close: %v", res.Header)
			}
			if res2, err := http.ReadResponse(br, nil); err == nil {
				t.Errorf("the request after it was served too: %d", res2.StatusCode)
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("the connection was not closed: %v", err)
			}
		})
	}
}
