package schemareg

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"

	"github.com/devstack-dev/devstack/internal/schemas"
)

// contentType is what every answer is served as.
const contentType = "application/vnd.schemaregistry.v1+json"

// accepted are the request body types the API reads (as JSON).
var accepted = map[string]bool{
	"":                                    true,
	contentType:                           true,
	"application/vnd.schemaregistry+json": true,
	"application/json":                    true,
	"application/octet-stream":            true,
}

// Handler is the REST API (what the listener serves; tests may drive it directly).
func (r *Registry) Handler() http.Handler { return http.HandlerFunc(r.serve) }

// schemaJSON is a schema version as the API shows it.
type schemaJSON struct {
	Subject    string              `json:"subject,omitempty"`
	Version    int                 `json:"version,omitempty"`
	ID         int                 `json:"id"`
	SchemaType string              `json:"schemaType,omitempty"`
	References []schemas.Reference `json:"references,omitempty"`
	Schema     string              `json:"schema"`
}

func showSchema(v *version, c *content) schemaJSON {
	s := schemaJSON{ID: c.id, References: c.refs, Schema: c.text}
	if v != nil {
		s.Subject, s.Version = v.subject, v.version
	}
	if c.typ != schemas.Avro {
		s.SchemaType = string(c.typ)
	}
	return s
}

type subjectVersionJSON struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// serialized is a PROTOBUF schema as ?format=serialized asks for it: its FileDescriptorProto, base64
// (what confluent-kafka-python's Protobuf deserializer reads). Other types keep their text.
func (r *Registry) serialized(ct *content) (string, *Error) {
	if ct.typ != schemas.Protobuf {
		return ct.text, nil
	}
	r.mu.RLock()
	p, e := r.parsedOf(ct.id)
	r.mu.RUnlock()
	if e != nil {
		return "", e
	}
	ps, ok := p.(*schemas.ProtoSchema)
	if !ok || ps.File == nil {
		return "", invalidSchema("schema %d is not a compiled Protobuf file", ct.id)
	}
	b, err := proto.Marshal(protodesc.ToFileDescriptorProto(ps.File))
	if err != nil {
		return "", invalidSchema("schema %d: %v", ct.id, err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// formatted applies ?format to a schema shown in an answer.
func (c *call) formatted(s *schemaJSON, ct *content) bool {
	if c.q.Get("format") != "serialized" {
		return true
	}
	text, e := c.r.serialized(ct)
	if e != nil {
		c.fail(e)
		return false
	}
	s.Schema = text
	return true
}

// page applies ?offset and ?limit to a list (Confluent's paging; a limit below 1 means no limit).
func page[T any](c *call, list []T) []T {
	if off, err := strconv.Atoi(c.q.Get("offset")); err == nil && off > 0 {
		list = list[min(off, len(list)):]
	}
	if lim, err := strconv.Atoi(c.q.Get("limit")); err == nil && lim > 0 && lim < len(list) {
		list = list[:lim]
	}
	return list
}

// call is one request being served.
type call struct {
	r   *Registry
	w   http.ResponseWriter
	req *http.Request
	q   url.Values
}

func (c *call) flag(name string) bool {
	v, _ := strconv.ParseBool(c.q.Get(name))
	return v
}

func (c *call) ok(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.fail(storeError(err))
		return
	}
	c.w.Header().Set("Content-Type", contentType)
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(b)
}

// raw answers with a schema's text as it is (GET …/schema).
func (c *call) raw(text string) {
	c.w.Header().Set("Content-Type", contentType)
	c.w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(c.w, text)
}

func (c *call) fail(e *Error) { writeError(c.w, e) }

func writeError(w http.ResponseWriter, e *Error) {
	b, _ := json.Marshal(struct {
		Code    int    `json:"error_code"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// body decodes the request body into v.
func (c *call) body(v any) bool {
	mt := c.req.Header.Get("Content-Type")
	if mt != "" {
		parsed, _, err := mime.ParseMediaType(mt)
		if err != nil || !accepted[strings.ToLower(parsed)] {
			c.fail(errorf(http.StatusUnsupportedMediaType, 415, "Unsupported content type %q: send application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json or application/json", mt))
			return false
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.w, c.req.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.fail(errorf(http.StatusRequestEntityTooLarge, 42201, "Request body larger than %d MiB", maxBody>>20))
			return false
		}
		c.fail(errorf(http.StatusBadRequest, 400, "Reading the request body: %v", err))
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.fail(errorf(http.StatusBadRequest, 400, "Malformed JSON request body: %v", err))
		return false
	}
	return true
}

func notFound(path string) *Error {
	return errorf(http.StatusNotFound, 404, "HTTP 404 Not Found: no such endpoint %s", path)
}

func methodNotAllowed(method, path string) *Error {
	return errorf(http.StatusMethodNotAllowed, 405, "HTTP 405 Method Not Allowed: %s %s", method, path)
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			r.panics.Add(1)
			r.log.Error("schema registry: a request panicked (a bug)", "method", req.Method, "path", req.URL.Path, "panic", v, "stack", string(debug.Stack()))
			writeError(w, errorf(http.StatusInternalServerError, 500, "Internal error: %v", v))
		}
	}()
	c := &call{r: r, w: w, req: req, q: req.URL.Query()}
	raw := strings.Trim(req.URL.EscapedPath(), "/")
	var seg []string
	if raw != "" {
		for _, s := range strings.Split(raw, "/") {
			u, err := url.PathUnescape(s)
			if err != nil {
				c.fail(notFound(req.URL.Path))
				return
			}
			seg = append(seg, u)
		}
	}
	if !c.route(seg) {
		c.fail(notFound(req.URL.Path))
	}
}

// route serves seg (the unescaped path segments); false when no endpoint has this path.
func (c *call) route(seg []string) bool {
	m := c.req.Method
	is := func(methods ...string) bool {
		for _, x := range methods {
			if m == x {
				return true
			}
		}
		c.fail(methodNotAllowed(m, c.req.URL.Path))
		return false
	}
	n := len(seg)
	if n == 0 {
		if is(http.MethodGet) {
			c.ok(struct{}{})
		}
		return true
	}
	switch seg[0] {
	case "subjects":
		switch {
		case n == 1:
			if is(http.MethodGet) {
				c.listSubjects()
			}
		case n == 2:
			if is(http.MethodPost, http.MethodDelete) {
				if m == http.MethodPost {
					c.lookup(seg[1])
				} else {
					c.deleteSubject(seg[1])
				}
			}
		case seg[2] != "versions":
			return false
		case n == 3:
			if is(http.MethodGet, http.MethodPost) {
				if m == http.MethodGet {
					c.listVersions(seg[1])
				} else {
					c.register(seg[1])
				}
			}
		case n == 4:
			if is(http.MethodGet, http.MethodDelete) {
				if m == http.MethodGet {
					c.getVersion(seg[1], seg[3], false)
				} else {
					c.deleteVersion(seg[1], seg[3])
				}
			}
		case n == 5 && seg[4] == "schema":
			if is(http.MethodGet) {
				c.getVersion(seg[1], seg[3], true)
			}
		case n == 5 && seg[4] == "referencedby":
			if is(http.MethodGet) {
				c.referencedBy(seg[1], seg[3])
			}
		default:
			return false
		}
	case "schemas":
		switch {
		case n == 1:
			if is(http.MethodGet) {
				c.listSchemas()
			}
		case n == 2 && seg[1] == "types":
			if is(http.MethodGet) {
				c.ok(schemas.Types)
			}
		case n >= 3 && n <= 4 && seg[1] == "ids":
			what := ""
			if n == 4 {
				what = seg[3]
				if what != "schema" && what != "subjects" && what != "versions" {
					return false
				}
			}
			if is(http.MethodGet) {
				c.schemaByID(seg[2], what)
			}
		default:
			return false
		}
	case "config", "mode":
		if n > 2 {
			return false
		}
		subject := ""
		if n == 2 {
			subject = seg[1]
		}
		if !is(http.MethodGet, http.MethodPut, http.MethodDelete) {
			return true
		}
		if seg[0] == "config" {
			c.config(subject)
		} else {
			c.mode(subject)
		}
	case "compatibility":
		if n < 4 || n > 5 || seg[1] != "subjects" || seg[3] != "versions" {
			return false
		}
		if is(http.MethodPost) {
			v := ""
			if n == 5 {
				v = seg[4]
			}
			c.compatibility(seg[2], v)
		}
	case "contexts":
		if n != 1 {
			return false
		}
		if is(http.MethodGet) {
			c.ok([]string{"."})
		}
	default:
		return false
	}
	return true
}

func (c *call) listSubjects() {
	r := c.r
	r.mu.RLock()
	names := r.st.subjectNames(c.q.Get("subjectPrefix"), c.flag("deleted"), c.flag("deletedOnly"))
	r.mu.RUnlock()
	c.ok(page(c, names))
}

func (c *call) listVersions(subject string) {
	r := c.r
	r.mu.RLock()
	vs := r.st.versions(subject, c.flag("deleted"))
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.version
	}
	r.mu.RUnlock()
	if len(out) == 0 {
		c.fail(subjectNotFound(subject))
		return
	}
	c.ok(page(c, out))
}

func (c *call) register(subject string) {
	var req registerRequest
	if !c.body(&req) {
		return
	}
	id, v, e := c.r.register(c.req.Context(), subject, req, c.flag("normalize"))
	if e != nil {
		c.fail(e)
		return
	}
	// Confluent's registry answers {"id"}; its newer clients also read subject and version when present.
	c.ok(struct {
		ID      int    `json:"id"`
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}{id, subject, v})
}

func (c *call) lookup(subject string) {
	var req registerRequest
	if !c.body(&req) {
		return
	}
	v, ct, e := c.r.lookup(subject, req, c.flag("normalize"), c.flag("deleted"))
	if e != nil {
		c.fail(e)
		return
	}
	s := showSchema(v, ct)
	if c.formatted(&s, ct) {
		c.ok(s)
	}
}

// resolved parses vs and resolves subject's version, calling with on it under the read lock; false
// (the error answered) when vs is not a version or the version is not there.
func (c *call) resolved(subject, vs string, deleted bool, with func(v *version)) bool {
	n, e := parseVersion(vs)
	if e != nil {
		c.fail(e)
		return false
	}
	r := c.r
	r.mu.RLock()
	v, e := r.st.resolve(subject, n, deleted)
	if e == nil {
		with(v)
	}
	r.mu.RUnlock()
	if e != nil {
		c.fail(e)
		return false
	}
	return true
}

func (c *call) getVersion(subject, vs string, rawText bool) {
	var v *version
	var ct *content
	if !c.resolved(subject, vs, c.flag("deleted"), func(rv *version) {
		v, ct = rv, c.r.st.byID[rv.id]
	}) {
		return
	}
	if rawText {
		c.raw(ct.text)
		return
	}
	s := showSchema(v, ct)
	if c.formatted(&s, ct) {
		c.ok(s)
	}
}

func (c *call) referencedBy(subject, vs string) {
	var ids []int
	if c.resolved(subject, vs, true, func(v *version) {
		ids = c.r.st.referencedBy(subject, v.version)
	}) {
		c.ok(ids)
	}
}

func (c *call) deleteSubject(subject string) {
	vs, e := c.r.deleteSubject(c.req.Context(), subject, c.flag("permanent"))
	if e != nil {
		c.fail(e)
		return
	}
	c.ok(vs)
}

func (c *call) deleteVersion(subject, vs string) {
	n, e := parseVersion(vs)
	if e != nil {
		c.fail(e)
		return
	}
	v, e := c.r.deleteVersion(c.req.Context(), subject, n, c.flag("permanent"))
	if e != nil {
		c.fail(e)
		return
	}
	c.ok(v)
}

func (c *call) listSchemas() {
	r := c.r
	prefix, deleted, latestOnly := c.q.Get("subjectPrefix"), c.flag("deleted"), c.flag("latestOnly")
	r.mu.RLock()
	out := []schemaJSON{}
	for _, s := range r.st.subjectNames(prefix, deleted, false) {
		vs := r.st.versions(s, deleted)
		if latestOnly && len(vs) > 0 {
			vs = vs[len(vs)-1:]
		}
		for _, v := range vs {
			out = append(out, showSchema(v, r.st.byID[v.id]))
		}
	}
	r.mu.RUnlock()
	c.ok(page(c, out))
}

func (c *call) schemaByID(ids, what string) {
	id, err := strconv.Atoi(ids)
	if err != nil || id < 1 {
		c.fail(errorf(http.StatusNotFound, 40403, "Schema %s not found: an id is a positive number", ids))
		return
	}
	r := c.r
	r.mu.RLock()
	ct, maxID := r.st.byID[id], r.st.maxID
	var uses []*version
	if ct != nil && (what == "subjects" || what == "versions") {
		uses = r.st.usages(id, c.flag("deleted"))
	}
	r.mu.RUnlock()
	if ct == nil {
		c.fail(schemaNotFound(id))
		return
	}
	switch what {
	case "":
		s := showSchema(nil, ct)
		if !c.formatted(&s, ct) {
			return
		}
		out := struct {
			SchemaType string              `json:"schemaType,omitempty"`
			References []schemas.Reference `json:"references,omitempty"`
			Schema     string              `json:"schema"`
			MaxID      int                 `json:"maxId,omitempty"`
		}{SchemaType: s.SchemaType, References: s.References, Schema: s.Schema}
		if c.flag("fetchMaxId") {
			out.MaxID = maxID
		}
		c.ok(out)
	case "schema":
		c.raw(ct.text)
	case "subjects":
		out := []string{}
		for _, v := range uses {
			if len(out) == 0 || out[len(out)-1] != v.subject {
				out = append(out, v.subject)
			}
		}
		c.ok(page(c, out))
	case "versions":
		out := []subjectVersionJSON{}
		for _, v := range uses {
			out = append(out, subjectVersionJSON{v.subject, v.version})
		}
		c.ok(page(c, out))
	}
}

func (c *call) config(subject string) {
	r, ctx := c.r, c.req.Context()
	switch c.req.Method {
	case http.MethodGet:
		l, e := r.getLevel(subject, c.flag("defaultToGlobal"))
		if e != nil {
			c.fail(e)
			return
		}
		c.ok(map[string]string{"compatibilityLevel": string(l)})
	case http.MethodPut:
		var body struct {
			Compatibility *string `json:"compatibility"`
		}
		if !c.body(&body) {
			return
		}
		if body.Compatibility == nil {
			c.fail(invalidLevel(""))
			return
		}
		if e := r.setLevel(ctx, subject, *body.Compatibility); e != nil {
			c.fail(e)
			return
		}
		c.ok(map[string]string{"compatibility": strings.ToUpper(strings.TrimSpace(*body.Compatibility))})
	case http.MethodDelete:
		l, e := r.deleteLevel(ctx, subject)
		if e != nil {
			c.fail(e)
			return
		}
		// Confluent answers with the removed config as GET shows it; franz-go's client reads
		// "compatibility": both are there.
		c.ok(map[string]string{"compatibilityLevel": string(l), "compatibility": string(l)})
	}
}

func (c *call) mode(subject string) {
	r, ctx := c.r, c.req.Context()
	switch c.req.Method {
	case http.MethodGet:
		m, e := r.getMode(subject, c.flag("defaultToGlobal"))
		if e != nil {
			c.fail(e)
			return
		}
		c.ok(map[string]string{"mode": m})
	case http.MethodPut:
		var body struct {
			Mode *string `json:"mode"`
		}
		if !c.body(&body) {
			return
		}
		if body.Mode == nil {
			c.fail(errorf(http.StatusUnprocessableEntity, 42204, "Invalid mode: the body needs \"mode\": READWRITE, READONLY or IMPORT"))
			return
		}
		m, e := r.setMode(ctx, subject, *body.Mode, c.flag("force"))
		if e != nil {
			c.fail(e)
			return
		}
		c.ok(map[string]string{"mode": m})
	case http.MethodDelete:
		m, e := r.deleteMode(ctx, subject)
		if e != nil {
			c.fail(e)
			return
		}
		c.ok(map[string]string{"mode": m})
	}
}

func (c *call) compatibility(subject, vs string) {
	n := 0
	if vs != "" {
		var e *Error
		if n, e = parseVersion(vs); e != nil {
			c.fail(e)
			return
		}
	}
	var req registerRequest
	if !c.body(&req) {
		return
	}
	msgs, e := c.r.compatibility(subject, n, req, c.flag("normalize"))
	if e != nil {
		c.fail(e)
		return
	}
	out := struct {
		Is       bool     `json:"is_compatible"`
		Messages []string `json:"messages,omitempty"`
	}{Is: len(msgs) == 0}
	if c.flag("verbose") {
		out.Messages = msgs
		if out.Messages == nil {
			out.Messages = []string{}
		}
	}
	c.ok(out)
}
