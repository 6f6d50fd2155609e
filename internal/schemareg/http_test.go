package schemareg

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestErrors sends bad requests over HTTP: each gets its Confluent error code, none a 500.
func TestErrors(t *testing.T) {
	r := start(t, cluster(t))
	huge := `{"schema":"` + strings.Repeat("x", 17<<20) + `"}`
	big := `{"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[` + strings.Repeat(" ", 1<<20) + `"}`
	for _, tc := range []struct {
		method, path, body string
		status, code       int
	}{
		{"GET", "/nope", "", 404, 404},
		{"GET", "/subjects/x/nope", "", 404, 404},
		{"DELETE", "/schemas/types", "", 405, 405},
		{"PATCH", "/subjects", "", 405, 405},
		{"GET", "/subjects/x/versions", "", 404, 40401},
		{"GET", "/subjects/x/versions/abc", "", 422, 42202},
		{"GET", "/subjects/x/versions/0", "", 422, 42202},
		{"GET", "/subjects/x/versions/-2", "", 422, 42202},
		{"GET", "/subjects/x/versions/2147483648", "", 422, 42202},
		{"GET", "/subjects/x/versions/1", "", 404, 40401},
		{"GET", "/subjects/x/versions/latest/schema", "", 404, 40401},
		{"GET", "/subjects/x/versions/1/referencedby", "", 404, 40401},
		{"DELETE", "/subjects/x", "", 404, 40401},
		{"DELETE", "/subjects/x/versions/1", "", 404, 40401},
		{"DELETE", "/subjects/x/versions/one", "", 422, 42202},
		{"POST", "/subjects/x/versions", "{", 400, 400},
		{"POST", "/subjects/x/versions", `{"schema":5}`, 400, 400},
		{"POST", "/subjects/x/versions", `{"schema":"{}","schemaType":"XML"}`, 422, 42201},
		{"POST", "/subjects/x/versions", `{"schema":""}`, 422, 42201},
		{"POST", "/subjects/x/versions", `null`, 422, 42201},
		{"POST", "/subjects/x/versions", `{"schema":"{}","references":[{"name":"a","subject":"nope","version":1}]}`, 422, 42201},
		{"POST", "/subjects/x/versions", `{"schema":"{}","references":[{"name":"","subject":"","version":1}]}`, 422, 42201},
		{"POST", "/subjects/x/versions", big, 422, 42201},
		{"POST", "/subjects/x/versions", huge, 413, 42201},
		{"POST", "/subjects/%01bad/versions", `{"schema":"{}"}`, 422, 42208},
		{"POST", "/subjects/x", `{"schema":"{}"}`, 404, 40401},
		{"GET", "/schemas/ids/1", "", 404, 40403},
		{"GET", "/schemas/ids/abc", "", 404, 40403},
		{"GET", "/schemas/ids/1/schema", "", 404, 40403},
		{"GET", "/schemas/ids/1/subjects", "", 404, 40403},
		{"GET", "/schemas/ids/1/versions", "", 404, 40403},
		{"PUT", "/config", `{"compatibility":"SIDEWAYS"}`, 422, 42203},
		{"PUT", "/config", `{}`, 422, 42203},
		{"PUT", "/config", `[`, 400, 400},
		{"PUT", "/config/x", `{"compatibility":""}`, 422, 42203},
		{"GET", "/config/x", "", 404, 40408},
		{"DELETE", "/config/x", "", 404, 40408},
		{"PUT", "/mode", `{"mode":"WRITEONLY"}`, 422, 42204},
		{"PUT", "/mode/x", `{}`, 422, 42204},
		{"GET", "/mode/x", "", 404, 40409},
		{"DELETE", "/mode/x", "", 404, 40409},
		{"POST", "/compatibility/subjects/x/versions/1", `{"schema":"{}"}`, 404, 40401},
		{"POST", "/compatibility/subjects/x/versions/zz", `{"schema":"{}"}`, 422, 42202},
		{"POST", "/compatibility/subjects/x/versions", `{"schema":"{}","schemaType":"XML"}`, 422, 42201},
		// READONLY refuses writes (the last rows run after this one).
		{"PUT", "/mode/ro", `{"mode":"READONLY"}`, 200, 0},
		{"POST", "/subjects/ro/versions", `{"schema":"{}"}`, 422, 42205},
		{"DELETE", "/subjects/ro", "", 422, 42205},
		{"PUT", "/mode", `{"mode":"IMPORT"}`, 200, 0},
		{"POST", "/subjects/any/versions", `{"schema":"{}","id":-5,"schemaType":"XML"}`, 422, 42201},
		{"PUT", "/mode", `{"mode":"READWRITE"}`, 200, 0},
	} {
		status, m, b := do(t, r, tc.method, tc.path, tc.body)
		if len(b) > 300 {
			b = b[:300]
		}
		if status != tc.status {
			t.Errorf("%s %s: status %d (%s), want %d", tc.method, tc.path, status, b, tc.status)
			continue
		}
		if tc.code == 0 {
			continue
		}
		if got, _ := m["error_code"].(float64); int(got) != tc.code {
			t.Errorf("%s %s: %s, want error_code %d", tc.method, tc.path, b, tc.code)
		}
		if msg, _ := m["message"].(string); msg == "" {
			t.Errorf("%s %s: no message: %s", tc.method, tc.path, b)
		}
	}
}

// TestContentTypes: the body types Confluent's clients send are read; others are refused with 415.
func TestContentTypes(t *testing.T) {
	r := start(t, cluster(t))
	for ct, want := range map[string]int{
		"":                                       200,
		"application/vnd.schemaregistry.v1+json": 200,
		"application/vnd.schemaregistry+json":    200,
		"application/json; charset=utf-8":        200,
		"application/octet-stream":               200,
		"text/plain":                             415,
		"not a type;;":                           415,
	} {
		req, _ := http.NewRequest("PUT", r.URL()+"/config/ct", strings.NewReader(`{"compatibility":"FULL"}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Content-Type %q: %d, want %d", ct, resp.StatusCode, want)
		}
		if got := resp.Header.Get("Content-Type"); got != contentType {
			t.Errorf("Content-Type %q: answered as %q", ct, got)
		}
	}
}

// FuzzRequest sends random requests through the API: never a panic, never a 500 other than the storage
// errors (50001-50003), always a JSON error body for an error.
func FuzzRequest(f *testing.F) {
	r := start(f, cluster(f))
	h := r.Handler()
	for _, s := range []struct {
		method byte
		path   string
		body   string
	}{
		{0, "/subjects", ""},
		{1, "/subjects/a/versions", `{"schema":"{\"type\":\"string\"}"}`},
		{1, "/subjects/a/versions", `{"schema":"syntax = \"proto3\"; message M {}","schemaType":"PROTOBUF"}`},
		{1, "/subjects/a/versions", `{"schema":"{\"type\":\"object\"}","schemaType":"JSON"}`},
		{1, "/subjects/a", `{"schema":"\"int\""}`},
		{0, "/subjects/a/versions/latest", ""},
		{3, "/subjects/a/versions/1?permanent=true", ""},
		{2, "/config/a", `{"compatibility":"FULL"}`},
		{2, "/mode", `{"mode":"IMPORT"}`},
		{1, "/compatibility/subjects/a/versions?verbose=true", `{"schema":"[\"int\",\"null\"]"}`},
		{0, "/schemas/ids/1/versions", ""},
		{1, "/subjects/a/versions", `{"schema":"{}","references":[{"name":"x","subject":"a","version":-1}]}`},
	} {
		f.Add(s.method, s.path, []byte(s.body))
	}
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}
	f.Fuzz(func(t *testing.T, method byte, path string, body []byte) {
		req, err := http.NewRequest(methods[int(method)%len(methods)], "http://registry/"+strings.TrimPrefix(path, "/"), bytes.NewReader(body))
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		before := r.panics.Load()
		h.ServeHTTP(w, req)
		if n := r.panics.Load() - before; n > 0 {
			t.Fatalf("%s %s %q: %d panics", req.Method, path, body, n)
		}
		if w.Code < 400 {
			return
		}
		var e struct {
			Code int `json:"error_code"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == 0 {
			t.Fatalf("%s %s %q: %d with body %q", req.Method, path, body, w.Code, w.Body.String())
		}
		if w.Code >= 500 && (e.Code < 50001 || e.Code > 50003) {
			t.Fatalf("%s %s %q: %d %s", req.Method, path, body, w.Code, w.Body.String())
		}
	})
}
