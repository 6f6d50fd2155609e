package schemareg

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/devstack-dev/devstack/internal/schemas"
)

// The _schemas topic holds records shaped like Confluent's, so a topic written by either can be read by
// the other: a JSON key naming what the record is about, a JSON value with its state, and a null value
// (a tombstone) for what was deleted for good.

const (
	keySchema        = "SCHEMA"
	keyConfig        = "CONFIG"
	keyMode          = "MODE"
	keyDeleteSubject = "DELETE_SUBJECT"
	keyClearSubject  = "CLEAR_SUBJECT"
	keyNoop          = "NOOP"
)

// recordKey is every key type's shape. Field order is fixed (struct order) so the same key always has
// the same bytes, which is what compaction keys on.
type recordKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject,omitempty"`
	Version *int    `json:"version,omitempty"`
	Magic   int     `json:"magic"`
}

func schemaKey(subject string, version int) recordKey {
	return recordKey{KeyType: keySchema, Subject: &subject, Version: &version, Magic: 1}
}

// configKey and modeKey name a subject's setting, or the global one when subject is "".
func configKey(subject string) recordKey {
	k := recordKey{KeyType: keyConfig}
	if subject != "" {
		k.Subject = &subject
	}
	return k
}

func modeKey(subject string) recordKey {
	k := recordKey{KeyType: keyMode}
	if subject != "" {
		k.Subject = &subject
	}
	return k
}

// schemaValue is a SCHEMA record's value: one version of a subject.
type schemaValue struct {
	Subject    string              `json:"subject"`
	Version    int                 `json:"version"`
	ID         int                 `json:"id"`
	SchemaType string              `json:"schemaType,omitempty"` // "" is AVRO, as Confluent writes it
	References []schemas.Reference `json:"references,omitempty"`
	Schema     string              `json:"schema"`
	Deleted    bool                `json:"deleted"`
	// Keys are the schema's content keys (contentKey of its canonical and normalized forms): with them,
	// a restart finds an already registered schema without parsing every schema again. Records
	// written by another registry have none; those schemas are parsed when first needed.
	Keys []string `json:"devstackKeys,omitempty"`
}

type configValue struct {
	CompatibilityLevel string `json:"compatibilityLevel"`
}

type modeValue struct {
	Mode string `json:"mode"`
}

type deleteSubjectValue struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// noopValue carries the largest id ever given, written before a hard delete could drop the record that
// held it, so ids are never reused even once the topic is compacted.
type noopValue struct {
	MaxID int `json:"maxId"`
}

// Modes.
const (
	modeReadWrite = "READWRITE"
	modeReadOnly  = "READONLY"
	modeImport    = "IMPORT"
)

func parseMode(s string) (string, bool) {
	switch m := strings.ToUpper(strings.TrimSpace(s)); m {
	case modeReadWrite, modeReadOnly, modeImport:
		return m, true
	}
	return "", false
}

// content is a registered schema: what one id stands for. Its text is the text as first registered;
// keys identify its canonical and normalized forms (contentKey), from its record or, for a record
// without them, computed by the registry when it first needs them (pending until then).
type content struct {
	id   int
	typ  schemas.Type
	text string
	refs []schemas.Reference
	keys []string
}

// contentKey identifies a schema's content: two registrations with the same type, canonical (or, with
// ?normalize, normalized) text and references share an id. form says which form text is. It is a
// SHA-256 (hex): the forms can be large, and the keys are kept in memory and in every record.
func contentKey(form byte, t schemas.Type, text string, refs []schemas.Reference) string {
	h := sha256.New()
	fmt.Fprintf(h, "%c\x00%s\x00%d\x00%s", form, t, len(text), text)
	for _, r := range refs {
		fmt.Fprintf(h, "\x00%d:%s\x00%d:%s\x00%d", len(r.Name), r.Name, len(r.Subject), r.Subject, r.Version)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// version is one version of a subject.
type version struct {
	subject string
	version int
	id      int
	deleted bool
}

// state is the registry's data as the topic says it is.
type state struct {
	subjects map[string][]*version // by subject, sorted by version number (soft-deleted ones included)
	byID     map[int]*content
	byKey    map[string]int // contentKey -> id, for the indexed contents
	pending  map[int]bool   // ids whose content is not indexed yet
	maxID    int            // the largest id ever seen (never reused)
	global   schemas.Level  // "" when no global CONFIG record: Options.Compatibility applies
	levels   map[string]schemas.Level
	mode     string // "" when no global MODE record: READWRITE
	modes    map[string]string
}

func newState() *state {
	return &state{
		subjects: map[string][]*version{},
		byID:     map[int]*content{},
		byKey:    map[string]int{},
		pending:  map[int]bool{},
		levels:   map[string]schemas.Level{},
		modes:    map[string]string{},
	}
}

// apply applies one record of the topic. A record it cannot read is skipped with an error (the caller
// logs it); the rest of the topic still applies.
func (s *state) apply(key, value []byte) error {
	var k recordKey
	if err := json.Unmarshal(key, &k); err != nil {
		return fmt.Errorf("unreadable key %q: %w", key, err)
	}
	subject := ""
	if k.Subject != nil {
		subject = *k.Subject
	}
	switch k.KeyType {
	case keySchema:
		if k.Subject == nil || k.Version == nil {
			return fmt.Errorf("SCHEMA key %q without subject or version", key)
		}
		if value == nil {
			s.removeVersion(subject, *k.Version)
			return nil
		}
		var v schemaValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("unreadable SCHEMA value for %s version %d: %w", subject, *k.Version, err)
		}
		t, err := schemas.ParseType(v.SchemaType)
		if err != nil {
			return fmt.Errorf("SCHEMA value for %s version %d: %w", subject, *k.Version, err)
		}
		if v.ID <= 0 {
			return fmt.Errorf("SCHEMA value for %s version %d: id %d", subject, *k.Version, v.ID)
		}
		s.putVersion(subject, *k.Version, v.ID, v.Deleted, t, v.Schema, v.References, v.Keys)
	case keyConfig:
		if value == nil {
			setSetting(&s.global, s.levels, subject, nil)
			return nil
		}
		var v configValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("unreadable CONFIG value %q: %w", value, err)
		}
		l, err := schemas.ParseLevel(v.CompatibilityLevel)
		if err != nil {
			return fmt.Errorf("CONFIG value: %w", err)
		}
		setSetting(&s.global, s.levels, subject, &l)
	case keyMode:
		if value == nil {
			setSetting(&s.mode, s.modes, subject, nil)
			return nil
		}
		var v modeValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("unreadable MODE value %q: %w", value, err)
		}
		m, ok := parseMode(v.Mode)
		if !ok {
			return fmt.Errorf("MODE value: unknown mode %q", v.Mode)
		}
		setSetting(&s.mode, s.modes, subject, &m)
	case keyDeleteSubject:
		if value == nil {
			return nil
		}
		var v deleteSubjectValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("unreadable DELETE_SUBJECT value %q: %w", value, err)
		}
		for _, ver := range s.subjects[subject] {
			if ver.version <= v.Version {
				ver.deleted = true
			}
		}
	case keyClearSubject:
		if value == nil {
			return nil
		}
		for _, ver := range slices.Clone(s.subjects[subject]) {
			if ver.deleted {
				s.removeVersion(subject, ver.version)
			}
		}
	case keyNoop:
		if value == nil {
			return nil
		}
		var v noopValue
		if err := json.Unmarshal(value, &v); err == nil && v.MaxID > s.maxID {
			s.maxID = v.MaxID
		}
	default:
		// Confluent writes other key types (CONTEXT, …) that say nothing devstack serves.
	}
	return nil
}

func (s *state) putVersion(subject string, ver, id int, deleted bool, t schemas.Type, text string, refs []schemas.Reference, keys []string) {
	if id > s.maxID {
		s.maxID = id
	}
	if _, ok := s.byID[id]; !ok {
		c := &content{id: id, typ: t, text: text, refs: refs}
		s.byID[id] = c
		if len(keys) == 2 {
			s.setKeys(c, keys)
		} else {
			s.pending[id] = true
		}
	}
	vs := s.subjects[subject]
	i, found := slices.BinarySearchFunc(vs, ver, func(v *version, n int) int { return v.version - n })
	nv := &version{subject: subject, version: ver, id: id, deleted: deleted}
	if found {
		old := vs[i].id
		vs[i] = nv
		s.dropUnused(old)
		return
	}
	s.subjects[subject] = slices.Insert(vs, i, nv)
}

func (s *state) removeVersion(subject string, ver int) {
	vs := s.subjects[subject]
	i, found := slices.BinarySearchFunc(vs, ver, func(v *version, n int) int { return v.version - n })
	if !found {
		return
	}
	id := vs[i].id
	vs = slices.Delete(vs, i, i+1)
	if len(vs) == 0 {
		delete(s.subjects, subject)
	} else {
		s.subjects[subject] = vs
	}
	s.dropUnused(id)
}

// setKeys indexes c under keys (a key already taken keeps its id).
func (s *state) setKeys(c *content, keys []string) {
	c.keys = keys
	for _, k := range keys {
		if _, ok := s.byKey[k]; !ok {
			s.byKey[k] = c.id
		}
	}
	delete(s.pending, c.id)
}

// dropUnused forgets id's content once no version uses it (its number stays used: maxID).
func (s *state) dropUnused(id int) {
	for _, vs := range s.subjects {
		for _, v := range vs {
			if v.id == id {
				return
			}
		}
	}
	if c, ok := s.byID[id]; ok {
		for _, k := range c.keys {
			if s.byKey[k] == id {
				delete(s.byKey, k)
			}
		}
		delete(s.byID, id)
		delete(s.pending, id)
	}
}

// live is subject's versions that are not soft-deleted, oldest first.
func (s *state) live(subject string) []*version {
	var out []*version
	for _, v := range s.subjects[subject] {
		if !v.deleted {
			out = append(out, v)
		}
	}
	return out
}

// versions is subject's versions, with the soft-deleted ones when deleted is true.
func (s *state) versions(subject string, deleted bool) []*version {
	if deleted {
		return s.subjects[subject]
	}
	return s.live(subject)
}

// find returns subject's version n (soft-deleted ones too).
func (s *state) find(subject string, n int) *version {
	vs := s.subjects[subject]
	i, found := slices.BinarySearchFunc(vs, n, func(v *version, n int) int { return v.version - n })
	if !found {
		return nil
	}
	return vs[i]
}

// subjectNames lists the subjects, sorted; with deleted, also those whose versions are all soft-deleted;
// with deletedOnly, only those.
func (s *state) subjectNames(prefix string, deleted, deletedOnly bool) []string {
	out := []string{}
	for name, vs := range s.subjects {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		live := slices.ContainsFunc(vs, func(v *version) bool { return !v.deleted })
		if (deletedOnly && !live) || (!deletedOnly && (deleted || live)) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// usages are the versions that use id, sorted by subject and version.
func (s *state) usages(id int, deleted bool) []*version {
	var out []*version
	for _, vs := range s.subjects {
		for _, v := range vs {
			if v.id == id && (deleted || !v.deleted) {
				out = append(out, v)
			}
		}
	}
	slices.SortFunc(out, func(a, b *version) int {
		if c := strings.Compare(a.subject, b.subject); c != 0 {
			return c
		}
		return a.version - b.version
	})
	return out
}

// referencedBy lists the ids of the (live) schemas that reference subject's version ver.
func (s *state) referencedBy(subject string, ver int) []int {
	ids := map[int]bool{}
	for _, vs := range s.subjects {
		for _, v := range vs {
			if v.deleted {
				continue
			}
			for _, r := range s.byID[v.id].refs {
				if r.Subject == subject && r.Version == ver {
					ids[v.id] = true
				}
			}
		}
	}
	out := make([]int, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}

// level is subject's compatibility level ("" subject: the global one).
func (s *state) level(subject string, dflt schemas.Level) schemas.Level {
	if l, ok := s.levels[subject]; ok && subject != "" {
		return l
	}
	if s.global != "" {
		return s.global
	}
	return dflt
}

// modeOf is subject's mode ("" subject: the global one).
func (s *state) modeOf(subject string) string {
	if m, ok := s.modes[subject]; ok && subject != "" {
		return m
	}
	if s.mode != "" {
		return s.mode
	}
	return modeReadWrite
}

// deps resolves refs to the texts of every schema they reach, by reference name (transitively).
func (s *state) deps(refs []schemas.Reference) (map[string]string, error) {
	out := map[string]string{}
	seen := map[int]bool{}
	var walk func(refs []schemas.Reference) error
	walk = func(refs []schemas.Reference) error {
		for _, r := range refs {
			v := s.find(r.Subject, r.Version)
			if v == nil {
				return fmt.Errorf("reference %q: subject %q has no version %d", r.Name, r.Subject, r.Version)
			}
			c := s.byID[v.id]
			out[r.Name] = c.text
			if !seen[c.id] {
				seen[c.id] = true
				if err := walk(c.refs); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(refs)
}

// setSetting sets subject's own setting (a compatibility level, a mode) in own to *v, or the global
// one for subject ""; a nil v removes subject's own, or empties the global one.
func setSetting[T ~string](global *T, own map[string]T, subject string, v *T) {
	var val T
	if v != nil {
		val = *v
	}
	switch {
	case subject == "":
		*global = val
	case v == nil:
		delete(own, subject)
	default:
		own[subject] = val
	}
}
