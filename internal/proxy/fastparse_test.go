package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// FuzzParseRequest: whatever the fast path's parser accepts, net/http's parser accepts too and
// reads the same method, path, query, host, length and headers, so a request never means one
// thing to the gateway's checks and another to net/http (or to an upstream built on it).
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /api/x?q=1 HTTP/1.1\r\nHost: a:80\r\nAuthorization: Bearer x.y.z\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: keep-alive, close\r\n\r\nabc",
		"GET /a/../b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-A:\t v \t\r\nx-auth-sub: z\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 01\r\n\r\n",
		"GET / HTTP/1.1\r\nhost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX_Auth_Subject: z\r\nx-AUTH_scopes: y\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, handoff := requestHead(b); n < 0 && !handoff {
			// the event loop waits for more bytes: net/http must not find a whole request head in them
			// either (else it would answer at once while the loop hangs until the header timeout)
			if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b))); err == nil {
				t.Fatalf("%q: the fast path waits for the end of the head, net/http read %s %s", b, req.Method, req.URL)
			}
			return
		}
		i := bytes.Index(b, crlfcrlf)
		if i < 0 {
			return
		}
		head := b[:i+4]
		var h reqHead
		if !parseRequest(head, string(head), &h) {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("fast path accepted %q, net/http refused it: %v", head, err)
		}
		if req.Method != h.method || req.URL.Path != h.path || req.URL.RawQuery != h.query || req.Host != h.host {
			t.Fatalf("%q: net/http read %s %q ?%q host %q; fast path %s %q ?%q host %q", head,
				req.Method, req.URL.Path, req.URL.RawQuery, req.Host, h.method, h.path, h.query, h.host)
		}
		if req.URL.RawPath != "" || len(req.TransferEncoding) > 0 || req.ProtoMinor != 1 {
			t.Fatalf("%q: fast path accepted a request net/http reads as special: %+v", head, req)
		}
		if want := max(h.contentLen, 0); req.ContentLength != want {
			t.Fatalf("%q: length %d, fast path %d", head, req.ContentLength, h.contentLen)
		}
		got := http.Header{}
		for _, s := range h.hdrs {
			if s.kind == hHost {
				continue
			}
			k := http.CanonicalHeaderKey(string(head[s.ns:s.ne]))
			got[k] = append(got[k], string(head[s.vs:s.ve]))
			wantKind := headerKind([]byte(strings.ToLower(k)))
			if s.kind != wantKind {
				t.Fatalf("%q: header %q classified %d and %d", head, k, s.kind, wantKind)
			}
		}
		for k, vv := range req.Header {
			if !slices.Equal(got[k], vv) {
				t.Fatalf("%q: header %q: net/http %q, fast path %q", head, k, vv, got[k])
			}
		}
		if len(got) != len(req.Header) {
			t.Fatalf("%q: headers net/http %v, fast path %v", head, req.Header, got)
		}
	})
}

// FuzzParseResponse: the upstream response parser never panics, and what it accepts net/http
// reads with the same status and framing.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 204 No Content\r\nConnection: X-Hop, close\r\nX-Hop: 1\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		i := bytes.Index(b, crlfcrlf)
		if i < 0 {
			return
		}
		var h respHead
		if !parseResponse(b[:i+4], &h) {
			return
		}
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			// net/http is stricter about some heads; the fast path then frames by its own reading,
			// which must at least be self-consistent
			if h.chunked && h.contentLen >= 0 {
				t.Fatalf("%q: chunked with a length accepted", b[:i+4])
			}
			return
		}
		if res.StatusCode != h.status {
			t.Fatalf("%q: status %d vs %d", b[:i+4], res.StatusCode, h.status)
		}
		if h.contentLen >= 0 && !h.chunked && res.StatusCode >= 200 && res.StatusCode != 204 && res.StatusCode != 304 && res.ContentLength != h.contentLen {
			t.Fatalf("%q: length %d vs %d", b[:i+4], res.ContentLength, h.contentLen)
		}
	})
}

func TestScanValue(t *testing.T) {
	long := strings.Repeat("abcdefgh", 20)
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"\r", 0},
		{"abc\r\n", 3},
		{long + "\r", len(long)},
		{long + "\t x\r", len(long) + 3},
		{long[:13] + "\x00" + long + "\r", -1},
		{long[:13] + "\x7f" + long + "\r", -1},
		{long[:21] + "\n" + long + "\r", -1},
		{long[:8] + "\x1f\r", -1},
		{long + "\xff\xfe\x80\r", len(long) + 3},
		{long, -1},
	} {
		if got := scanValue([]byte(tc.in), 0); got != tc.want {
			t.Errorf("scanValue(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// Request ids cut from shared blocks are well formed, distinct, and never change once handed out.
func TestIDBlockIDsStayPut(t *testing.T) {
	var b idBlock
	const n = 3*idBlockIDs + 5
	ids := make([]string, n)
	copies := make([]string, n)
	seen := map[string]bool{}
	for i := range ids {
		ids[i] = b.next()
		copies[i] = strings.Clone(ids[i])
		if len(ids[i]) != requestIDLen || !validRequestID(ids[i]) || strings.Trim(ids[i], "0123456789abcdef") != "" {
			t.Fatalf("id %d = %q: want %d lower-case hex digits", i, ids[i], requestIDLen)
		}
		if seen[ids[i]] {
			t.Fatalf("id %d = %q repeats", i, ids[i])
		}
		seen[ids[i]] = true
	}
	for i := range ids {
		if ids[i] != copies[i] {
			t.Fatalf("id %d changed from %q to %q after later ids were cut", i, copies[i], ids[i])
		}
	}
	if r := newRequestID(); len(r) != requestIDLen || !validRequestID(r) {
		t.Fatalf("newRequestID = %q", r)
	}
}
