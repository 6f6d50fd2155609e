package schemareg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/devstack-dev/devstack/internal/schemas"
)

// The registry's operations, one per API call that changes or computes something. Each returns an *Error
// with Confluent's code for what went wrong.

func errorf(status, code int, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

func subjectNotFound(s string) *Error {
	return errorf(http.StatusNotFound, 40401, "Subject '%s' not found.", s)
}

func versionNotFound(s string, v int) *Error {
	return errorf(http.StatusNotFound, 40402, "Version %d not found for subject '%s'.", v, s)
}

func schemaNotFound(id int) *Error {
	return errorf(http.StatusNotFound, 40403, "Schema %d not found", id)
}

func invalidSchema(format string, a ...any) *Error {
	return errorf(http.StatusUnprocessableEntity, 42201, "Invalid schema: "+format, a...)
}

func invalidVersion(v string) *Error {
	return errorf(http.StatusUnprocessableEntity, 42202, "The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)
}

func readOnly(subject string) *Error {
	if subject == "" {
		return errorf(http.StatusUnprocessableEntity, 42205, "Subject is in read-only mode")
	}
	return errorf(http.StatusUnprocessableEntity, 42205, "Subject %s is in read-only mode", subject)
}

// checkSubject refuses names a subject cannot have.
func checkSubject(s string) *Error {
	if s == "" || strings.IndexFunc(s, unicode.IsControl) >= 0 || !isUTF8(s) {
		return errorf(http.StatusUnprocessableEntity, 42208, "Invalid subject %q: a subject is a non-empty name without control characters", s)
	}
	return nil
}

func isUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// parseVersion reads a version as a path names it: a number, or latest (-1).
func parseVersion(v string) (int, *Error) {
	if v == "latest" || v == "-1" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1<<31-1 {
		return 0, invalidVersion(v)
	}
	return n, nil
}

// resolve finds subject's version v (-1: the latest; soft-deleted ones only when deleted).
func (s *state) resolve(subject string, v int, deleted bool) (*version, *Error) {
	vs := s.versions(subject, deleted)
	if len(vs) == 0 {
		return nil, subjectNotFound(subject)
	}
	if v == -1 {
		return vs[len(vs)-1], nil
	}
	ver := s.find(subject, v)
	if ver == nil || (ver.deleted && !deleted) {
		return nil, versionNotFound(subject, v)
	}
	return ver, nil
}

// registerRequest is POST /subjects/{s}/versions's body (and lookup's and the compatibility check's).
type registerRequest struct {
	Schema     string              `json:"schema"`
	SchemaType string              `json:"schemaType"`
	References []schemas.Reference `json:"references"`
	ID         int                 `json:"id"`
	Version    int                 `json:"version"`
}

// candidate is a schema in a request, parsed with its references resolved.
type candidate struct {
	parsed schemas.Parsed
	typ    schemas.Type
	text   string // the text as sent: what is stored
	refs   []schemas.Reference
	key    string // contentKey of its canonical (or, with ?normalize, normalized) form: what is compared
}

// prepare parses a request's schema against the current state. The caller holds r.mu (read).
func (r *Registry) prepare(req registerRequest, normalize bool) (*candidate, *Error) {
	t, err := schemas.ParseType(req.SchemaType)
	if err != nil {
		return nil, invalidSchema("%v", err)
	}
	if strings.TrimSpace(req.Schema) == "" {
		return nil, invalidSchema("the schema is empty")
	}
	refs := make([]schemas.Reference, len(req.References))
	for i, ref := range req.References {
		if ref.Name == "" || ref.Subject == "" {
			return nil, invalidSchema("reference %d needs a name and a subject", i)
		}
		if ref.Version == -1 {
			live := r.st.live(ref.Subject)
			if len(live) == 0 {
				return nil, invalidSchema("reference %q: subject %q has no versions", ref.Name, ref.Subject)
			}
			ref.Version = live[len(live)-1].version
		}
		refs[i] = ref
	}
	deps, err := r.st.deps(refs)
	if err != nil {
		return nil, invalidSchema("%v", err)
	}
	p, e := r.parse(schemas.Schema{Type: t, Text: req.Schema, References: refs, Deps: deps})
	if e != nil {
		return nil, e
	}
	if len(refs) == 0 {
		refs = nil
	}
	c := &candidate{parsed: p, typ: t, text: req.Schema, refs: refs}
	if e := r.safely(func() {
		if normalize {
			c.key = contentKey('n', t, p.Normalized(), refs)
		} else {
			c.key = contentKey('c', t, p.Canonical(), refs)
		}
	}); e != nil {
		return nil, e
	}
	return c, nil
}

// safely runs f (a call into the schema library), turning a panic into an invalid schema error.
func (r *Registry) safely(f func()) (e *Error) {
	defer func() {
		if v := recover(); v != nil {
			r.panics.Add(1)
			r.log.Error("schema registry: the schema library panicked (a bug in internal/schemas)", "panic", v, "stack", string(debug.Stack()))
			e = invalidSchema("the schema library failed on this schema: %v", v)
		}
	}()
	f()
	return nil
}

// keysOf are p's content keys (canonical and normalized).
func (r *Registry) keysOf(c *content, p schemas.Parsed) []string {
	var keys []string
	if e := r.safely(func() {
		keys = []string{contentKey('c', c.typ, p.Canonical(), c.refs), contentKey('n', c.typ, p.Normalized(), c.refs)}
	}); e != nil {
		return nil
	}
	return keys
}

// index computes the content keys of the schemas read from the topic that have none yet (parsing them
// once; after a restart, the first registration or lookup pays for it).
func (r *Registry) index() {
	r.imu.Lock()
	defer r.imu.Unlock()
	r.mu.RLock()
	var todo []*content
	for id := range r.st.pending {
		todo = append(todo, r.st.byID[id])
	}
	r.mu.RUnlock()
	if len(todo) == 0 {
		return
	}
	keys := make([][]string, len(todo))
	r.mu.RLock()
	for i, c := range todo {
		if p, e := r.parsedOf(c.id); e == nil {
			keys[i] = r.keysOf(c, p)
		} else {
			r.log.Warn("schema registry: a registered schema does not parse; registering it again makes a new id", "id", c.id, "err", e.Message)
		}
	}
	r.mu.RUnlock()
	r.mu.Lock()
	for i, c := range todo {
		if r.st.byID[c.id] == c && r.st.pending[c.id] {
			r.st.setKeys(c, keys[i])
		}
	}
	r.mu.Unlock()
}

// parse parses s; a parser that panics is a bug, reported as an invalid schema (and logged) rather than
// taking the registry down.
func (r *Registry) parse(s schemas.Schema) (p schemas.Parsed, e *Error) {
	defer func() {
		if v := recover(); v != nil {
			r.panics.Add(1)
			r.log.Error("schema registry: the schema parser panicked (a bug in internal/schemas)", "type", s.Type, "panic", v, "stack", string(debug.Stack()))
			p, e = nil, invalidSchema("the %s parser failed on this schema: %v", s.Type, v)
		}
	}()
	p, err := schemas.Parse(s)
	if err != nil {
		e := invalidSchema("%v", err)
		var pe *schemas.ParseError
		if errors.As(err, &pe) {
			e = invalidSchema("%s", pe.Error())
		}
		e.Err = err
		return nil, e
	}
	return p, nil
}

// parsedOf parses a registered schema (cached by id). The caller holds r.mu (read).
func (r *Registry) parsedOf(id int) (schemas.Parsed, *Error) {
	r.pmu.Lock()
	p, ok := r.parsed[id]
	r.pmu.Unlock()
	if ok {
		return p, nil
	}
	c := r.st.byID[id]
	if c == nil {
		return nil, schemaNotFound(id)
	}
	deps, err := r.st.deps(c.refs)
	if err != nil {
		return nil, invalidSchema("registered schema %d: %v", id, err)
	}
	p, e := r.parse(schemas.Schema{Type: c.typ, Text: c.text, References: c.refs, Deps: deps})
	if e != nil {
		return nil, invalidSchema("registered schema %d no longer parses: %s", id, e.Message)
	}
	r.cacheParsed(id, p)
	return p, nil
}

// maxParsed bounds the parsed schemas kept (a parsed schema takes many times its text's memory).
const maxParsed = 256

func (r *Registry) cacheParsed(id int, p schemas.Parsed) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if _, ok := r.parsed[id]; ok {
		return
	}
	for k := range r.parsed { // evict arbitrary entries (map order): the latest versions are parsed again cheaply
		if len(r.parsed) < maxParsed {
			break
		}
		delete(r.parsed, k)
	}
	r.parsed[id] = p
}

// check says why cand is not compatible with against under level.
func (r *Registry) check(level schemas.Level, cand schemas.Parsed, against []*version) ([]string, *Error) {
	if level == schemas.None || len(against) == 0 {
		return nil, nil
	}
	existing := make([]schemas.Parsed, 0, len(against))
	for _, v := range against {
		p, e := r.parsedOf(v.id)
		if e != nil {
			return nil, e
		}
		existing = append(existing, p)
	}
	var msgs []string
	func() {
		defer func() {
			if v := recover(); v != nil {
				r.panics.Add(1)
				r.log.Error("schema registry: the compatibility checker panicked (a bug in internal/schemas)", "panic", v, "stack", string(debug.Stack()))
				msgs = []string{fmt.Sprintf("the compatibility checker failed: %v", v)}
			}
		}()
		msgs = schemas.Check(level, cand, existing)
	}()
	return msgs, nil
}

func incompatible(subject string, level schemas.Level, msgs []string) *Error {
	return &Error{
		Status:  http.StatusConflict,
		Code:    409,
		Message: fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q (%s): %s", subject, level, strings.Join(msgs, "; ")),
		Reasons: msgs,
	}
}

func (r *Registry) register(ctx context.Context, subject string, req registerRequest, normalize bool) (id, ver int, e *Error) {
	defer func() {
		if e != nil && e.Status >= 400 && e.Status < 500 {
			r.refused.Add(1)
		}
	}()
	if e := checkSubject(subject); e != nil {
		return 0, 0, e
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.index()
	id, ver, rec, c, e := r.planRegister(subject, req, normalize)
	if e != nil || rec == nil {
		return id, ver, e
	}
	if e := r.write(ctx, *rec); e != nil {
		return 0, 0, e
	}
	r.cacheParsed(id, c.parsed) // the next registration under subject checks against it
	r.log.Info("schema registry: registered", "subject", subject, "version", ver, "id", id)
	return id, ver, nil
}

// planRegister decides what registering req does: an existing id and version (rec nil) or the record
// to write.
func (r *Registry) planRegister(subject string, req registerRequest, normalize bool) (int, int, *kv, *candidate, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.st
	mode := st.modeOf(subject)
	if mode == modeReadOnly {
		return 0, 0, nil, nil, readOnly(subject)
	}
	c, e := r.prepare(req, normalize)
	if e != nil {
		return 0, 0, nil, nil, e
	}
	existingID, known := st.byKey[c.key]
	live := st.live(subject)
	if known {
		for _, v := range live {
			if v.id == existingID && (req.ID <= 0 || req.ID == existingID) && (req.Version <= 0 || req.Version == v.version) {
				return existingID, v.version, nil, nil, nil
			}
		}
	}
	if mode != modeImport {
		level := st.level(subject, r.opts.Compatibility)
		msgs, e := r.check(level, c.parsed, live)
		if e != nil {
			return 0, 0, nil, nil, e
		}
		if len(msgs) > 0 {
			return 0, 0, nil, nil, incompatible(subject, level, msgs)
		}
	}
	id := st.maxID + 1
	if known {
		id = existingID
	}
	if req.ID > 0 {
		if mode != modeImport && (!known || req.ID != existingID) {
			return 0, 0, nil, nil, errorf(http.StatusUnprocessableEntity, 42205, "Registering a schema with a given id (%d) is only allowed in IMPORT mode", req.ID)
		}
		if other, ok := st.byID[req.ID]; ok && !slices.Contains(other.keys, c.key) {
			return 0, 0, nil, nil, errorf(http.StatusUnprocessableEntity, 42205, "Overwrite new schema with id %d is not permitted: id %d is another schema", req.ID, req.ID)
		}
		id = req.ID
	}
	all := st.subjects[subject]
	next := 1
	if len(all) > 0 {
		next = all[len(all)-1].version + 1
	}
	if req.Version > 0 {
		switch {
		case mode == modeImport && st.find(subject, req.Version) != nil:
			return 0, 0, nil, nil, errorf(http.StatusUnprocessableEntity, 42205, "Overwrite of version %d of subject %q is not permitted", req.Version, subject)
		case mode != modeImport && req.Version != next:
			return 0, 0, nil, nil, errorf(http.StatusUnprocessableEntity, 42202, "Version %d is not the next version of subject %q (%d)", req.Version, subject, next)
		}
		next = req.Version
	}
	val := schemaValue{Subject: subject, Version: next, ID: id, References: c.refs, Schema: c.text}
	if other, ok := st.byID[id]; ok {
		val.Schema, val.Keys = other.text, other.keys // the id's text as first registered
	} else {
		val.Keys = r.keysOf(&content{typ: c.typ, refs: c.refs}, c.parsed)
	}
	if c.typ != schemas.Avro {
		val.SchemaType = string(c.typ)
	}
	return id, next, &kv{key: schemaKey(subject, next), value: val}, c, nil
}

// lookup finds req's schema among subject's versions (POST /subjects/{s}).
func (r *Registry) lookup(subject string, req registerRequest, normalize, deleted bool) (*version, *content, *Error) {
	r.index()
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := r.st.versions(subject, deleted)
	if len(vs) == 0 {
		return nil, nil, subjectNotFound(subject)
	}
	c, e := r.prepare(req, normalize)
	if e != nil {
		return nil, nil, e
	}
	id, ok := r.st.byKey[c.key]
	if ok {
		for i := len(vs) - 1; i >= 0; i-- {
			if vs[i].id == id {
				return vs[i], r.st.byID[id], nil
			}
		}
	}
	return nil, nil, errorf(http.StatusNotFound, 40403, "Schema not found under subject '%s'", subject)
}

// compatibility checks req against subject's version v (0: against every version the level names).
func (r *Registry) compatibility(subject string, v int, req registerRequest, normalize bool) ([]string, *Error) {
	if e := checkSubject(subject); e != nil {
		return nil, e
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var against []*version
	if v != 0 {
		ver, e := r.st.resolve(subject, v, false)
		if e != nil {
			return nil, e
		}
		against = []*version{ver}
	} else {
		against = r.st.live(subject)
	}
	c, e := r.prepare(req, normalize)
	if e != nil {
		return nil, e
	}
	return r.check(r.st.level(subject, r.opts.Compatibility), c.parsed, against)
}

// deleteRecords writes the records build makes from the state (read under the read lock; refused
// while subject is READONLY), holding the write lock throughout.
func (r *Registry) deleteRecords(ctx context.Context, subject string, build func(st *state) ([]kv, *Error)) *Error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	recs, err := func() ([]kv, *Error) {
		r.mu.RLock()
		defer r.mu.RUnlock()
		if r.st.modeOf(subject) == modeReadOnly {
			return nil, readOnly(subject)
		}
		return build(r.st)
	}()
	if err != nil {
		return err
	}
	return r.write(ctx, recs...)
}

// softDeleted is the record that marks subject's version v deleted.
func (st *state) softDeleted(subject string, v *version) kv {
	c := st.byID[v.id]
	val := schemaValue{Subject: subject, Version: v.version, ID: v.id, References: c.refs, Schema: c.text, Deleted: true, Keys: c.keys}
	if c.typ != schemas.Avro {
		val.SchemaType = string(c.typ)
	}
	return kv{key: schemaKey(subject, v.version), value: val}
}

// unlessReferenced refuses to delete subject's version when other schemas reference it.
func (st *state) unlessReferenced(subject string, version int) *Error {
	if ids := st.referencedBy(subject, version); len(ids) > 0 {
		return errorf(http.StatusUnprocessableEntity, 42206, "One or more references exist to the schema {subject=%s, version=%d}: ids %v", subject, version, ids)
	}
	return nil
}

// deleteSubject soft-deletes subject's versions, or with permanent removes the soft-deleted ones.
func (r *Registry) deleteSubject(ctx context.Context, subject string, permanent bool) ([]int, *Error) {
	var out []int
	err := r.deleteRecords(ctx, subject, func(st *state) ([]kv, *Error) {
		all := st.subjects[subject]
		if len(all) == 0 {
			return nil, subjectNotFound(subject)
		}
		live := st.live(subject)
		if permanent && len(live) > 0 {
			return nil, errorf(http.StatusNotFound, 40405, "Subject '%s' was not deleted first before being permanently deleted", subject)
		}
		if !permanent && len(live) == 0 {
			return nil, errorf(http.StatusNotFound, 40404, "Subject '%s' was soft deleted. Set permanent=true to delete permanently", subject)
		}
		for _, v := range all {
			if e := st.unlessReferenced(subject, v.version); e != nil {
				return nil, e
			}
		}
		var recs []kv
		if permanent {
			recs = append(recs, kv{key: recordKey{KeyType: keyNoop}, value: noopValue{MaxID: st.maxID}})
			for _, v := range all {
				recs = append(recs, kv{key: schemaKey(subject, v.version)})
				out = append(out, v.version)
			}
			return recs, nil
		}
		for _, v := range live {
			recs = append(recs, st.softDeleted(subject, v))
			out = append(out, v.version)
		}
		recs = append(recs, kv{key: recordKey{KeyType: keyDeleteSubject, Subject: &subject}, value: deleteSubjectValue{Subject: subject, Version: live[len(live)-1].version}})
		if _, ok := st.levels[subject]; ok {
			recs = append(recs, kv{key: configKey(subject)})
		}
		if _, ok := st.modes[subject]; ok {
			recs = append(recs, kv{key: modeKey(subject)})
		}
		return recs, nil
	})
	if err != nil {
		return nil, err
	}
	r.log.Info("schema registry: deleted subject", "subject", subject, "permanent", permanent, "versions", out)
	return out, nil
}

// deleteVersion soft-deletes subject's version v, or with permanent removes a soft-deleted one.
func (r *Registry) deleteVersion(ctx context.Context, subject string, v int, permanent bool) (int, *Error) {
	var n int
	err := r.deleteRecords(ctx, subject, func(st *state) ([]kv, *Error) {
		// A numbered version is found soft-deleted or not (soft-deleting it twice is 40406); latest is
		// the latest live one for a soft delete, the latest of all for a hard one.
		ver, e := st.resolve(subject, v, permanent || v != -1)
		if e != nil {
			return nil, e
		}
		n = ver.version
		if permanent && !ver.deleted {
			return nil, errorf(http.StatusNotFound, 40407, "Subject '%s' Version %d was not deleted first before being permanently deleted", subject, n)
		}
		if !permanent && ver.deleted {
			return nil, errorf(http.StatusNotFound, 40406, "Subject '%s' Version %d was soft deleted. Set permanent=true to delete permanently", subject, n)
		}
		if e := st.unlessReferenced(subject, n); e != nil {
			return nil, e
		}
		if permanent {
			return []kv{{key: recordKey{KeyType: keyNoop}, value: noopValue{MaxID: st.maxID}}, {key: schemaKey(subject, n)}}, nil
		}
		return []kv{st.softDeleted(subject, ver)}, nil
	})
	if err != nil {
		return 0, err
	}
	r.log.Info("schema registry: deleted version", "subject", subject, "version", n, "permanent", permanent)
	return n, nil
}

func invalidLevel(l string) *Error {
	return errorf(http.StatusUnprocessableEntity, 42203, "Invalid compatibility level %q. Valid values are NONE, BACKWARD, FORWARD, FULL, BACKWARD_TRANSITIVE, FORWARD_TRANSITIVE and FULL_TRANSITIVE", l)
}

func (r *Registry) setLevel(ctx context.Context, subject, level string) *Error {
	l, err := schemas.ParseLevel(level)
	if err != nil {
		return invalidLevel(level)
	}
	if subject != "" {
		if e := checkSubject(subject); e != nil {
			return e
		}
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if e := r.write(ctx, kv{key: configKey(subject), value: configValue{CompatibilityLevel: string(l)}}); e != nil {
		return e
	}
	r.log.Info("schema registry: compatibility level set", "subject", subject, "level", l)
	return nil
}

func levelNotConfigured(subject string) *Error {
	return errorf(http.StatusNotFound, 40408, "Subject '%s' does not have subject-level compatibility configured", subject)
}

// setting is a per-subject setting the store holds (the compatibility level, the mode): own and
// global are read under r.mu.
type setting[T any] struct {
	own           func(subject string) (T, bool)
	global        func() T
	key           func(subject string) recordKey
	notConfigured func(subject string) *Error
}

// get answers subject's own setting, the global one for subject "" or (with defaultToGlobal) for a
// subject without its own, else notConfigured.
func (s setting[T]) get(r *Registry, subject string, defaultToGlobal bool) (T, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if subject == "" {
		return s.global(), nil
	}
	if v, ok := s.own(subject); ok {
		return v, nil
	}
	if defaultToGlobal {
		return s.global(), nil
	}
	var zero T
	return zero, s.notConfigured(subject)
}

// remove removes subject's own setting (the global one: back to its default) and returns it.
func (s setting[T]) remove(ctx context.Context, r *Registry, subject string) (T, *Error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.RLock()
	prev, ok := s.own(subject)
	if subject == "" {
		prev, ok = s.global(), true
	}
	r.mu.RUnlock()
	var zero T
	if !ok {
		return zero, s.notConfigured(subject)
	}
	if e := r.write(ctx, kv{key: s.key(subject)}); e != nil {
		return zero, e
	}
	return prev, nil
}

func (r *Registry) levelSetting() setting[schemas.Level] {
	return setting[schemas.Level]{
		own: func(subject string) (schemas.Level, bool) {
			l, ok := r.st.levels[subject]
			return l, ok
		},
		global:        func() schemas.Level { return r.st.level("", r.opts.Compatibility) },
		key:           configKey,
		notConfigured: levelNotConfigured,
	}
}

func (r *Registry) getLevel(subject string, defaultToGlobal bool) (schemas.Level, *Error) {
	return r.levelSetting().get(r, subject, defaultToGlobal)
}

// deleteLevel removes subject's level (the global one: back to Options.Compatibility) and returns it.
func (r *Registry) deleteLevel(ctx context.Context, subject string) (schemas.Level, *Error) {
	return r.levelSetting().remove(ctx, r, subject)
}

func modeNotConfigured(subject string) *Error {
	return errorf(http.StatusNotFound, 40409, "Subject '%s' does not have subject-level mode configured", subject)
}

func (r *Registry) modeSetting() setting[string] {
	return setting[string]{
		own: func(subject string) (string, bool) {
			m, ok := r.st.modes[subject]
			return m, ok
		},
		global:        func() string { return r.st.modeOf("") },
		key:           modeKey,
		notConfigured: modeNotConfigured,
	}
}

func (r *Registry) getMode(subject string, defaultToGlobal bool) (string, *Error) {
	return r.modeSetting().get(r, subject, defaultToGlobal)
}

func (r *Registry) setMode(ctx context.Context, subject, mode string, force bool) (string, *Error) {
	m, ok := parseMode(mode)
	if !ok {
		return "", errorf(http.StatusUnprocessableEntity, 42204, "Invalid mode %q. Valid values are READWRITE, READONLY and IMPORT", mode)
	}
	if subject != "" {
		if e := checkSubject(subject); e != nil {
			return "", e
		}
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if m == modeImport && !force {
		r.mu.RLock()
		nonEmpty := len(r.st.subjects) > 0
		if subject != "" {
			nonEmpty = len(r.st.subjects[subject]) > 0
		}
		r.mu.RUnlock()
		if nonEmpty {
			return "", errorf(http.StatusUnprocessableEntity, 42205, "Cannot import since found existing subjects; set force=true to switch to IMPORT mode anyway")
		}
	}
	if e := r.write(ctx, kv{key: modeKey(subject), value: modeValue{Mode: m}}); e != nil {
		return "", e
	}
	r.log.Info("schema registry: mode set", "subject", subject, "mode", m)
	return m, nil
}

// deleteMode removes subject's mode (the global one: back to READWRITE) and returns it.
func (r *Registry) deleteMode(ctx context.Context, subject string) (string, *Error) {
	return r.modeSetting().remove(ctx, r, subject)
}
