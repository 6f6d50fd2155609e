package serde

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/devstack-dev/devstack/internal/schemas"
)

// Registry is a client of a Confluent-compatible schema registry (franz-go's sr client) that resolves
// schemas by id and by subject, with their references, and caches what cannot change (an id's schema,
// a subject's numbered version).
type Registry struct {
	URL    string
	Client *sr.Client

	mu        sync.Mutex
	byID      map[int]*Resolved
	byVersion map[SubjectVersion]*Resolved
}

// NewRegistry returns a client of the registry at url (http://host:port).
func NewRegistry(url string) (*Registry, error) {
	url = strings.TrimRight(url, "/")
	cl, err := sr.NewClient(sr.URLs(url), sr.HTTPClient(&http.Client{Timeout: 15 * time.Second}), sr.UserAgent("devstack"))
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: %w", url, err)
	}
	return &Registry{URL: url, Client: cl, byID: map[int]*Resolved{}, byVersion: map[SubjectVersion]*Resolved{}}, nil
}

// ErrorCode is the registry's error_code in err (40401 subject not found, …), or 0.
func ErrorCode(err error) int {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return 0
}

// ByID returns the schema registered with id; an error wrapping ErrUnknownID when there is none.
func (r *Registry) ByID(ctx context.Context, id int) (*Resolved, error) {
	r.mu.Lock()
	res, ok := r.byID[id]
	r.mu.Unlock()
	if ok {
		return res, nil
	}
	s, err := r.Client.SchemaByID(ctx, id)
	if err != nil {
		if ErrorCode(err) == 40403 {
			return nil, fmt.Errorf("%w: id %d (%s)", ErrUnknownID, id, r.URL)
		}
		return nil, fmt.Errorf("schema id %d from %s: %w", id, r.URL, err)
	}
	res, err = r.resolve(ctx, id, s)
	if err != nil {
		return nil, err
	}
	if vs, err := r.Client.SchemaVersionsByID(ctx, id); err == nil {
		for _, v := range vs {
			res.Versions = append(res.Versions, SubjectVersion{v.Subject, v.Version})
		}
	}
	r.mu.Lock()
	r.byID[id] = res
	r.mu.Unlock()
	return res, nil
}

// BySubject returns version of subject; version -1 is the latest (never cached).
func (r *Registry) BySubject(ctx context.Context, subject string, version int) (*Resolved, error) {
	key := SubjectVersion{subject, version}
	if version > 0 {
		r.mu.Lock()
		res, ok := r.byVersion[key]
		r.mu.Unlock()
		if ok {
			return res, nil
		}
	}
	ss, err := r.Client.SchemaByVersion(ctx, subject, version)
	if err != nil {
		return nil, r.subjectError(subject, version, err)
	}
	res, err := r.resolve(ctx, ss.ID, ss.Schema)
	if err != nil {
		return nil, err
	}
	res.Subject, res.Version = ss.Subject, ss.Version
	if res.Subject == "" {
		res.Subject = subject
	}
	r.mu.Lock()
	r.byVersion[SubjectVersion{res.Subject, res.Version}] = res
	r.mu.Unlock()
	return res, nil
}

func (r *Registry) subjectError(subject string, version int, err error) error {
	v := "latest version"
	if version > 0 {
		v = fmt.Sprintf("version %d", version)
	}
	switch ErrorCode(err) {
	case 40401:
		return fmt.Errorf("subject %q is not registered at %s: `devstack registry subjects` lists them", subject, r.URL)
	case 40402:
		return fmt.Errorf("subject %q has no %s at %s: `devstack registry show %s` shows the latest", subject, v, r.URL, subject)
	}
	return fmt.Errorf("subject %q %s from %s: %w", subject, v, r.URL, err)
}

// resolve fetches s's references (transitively) and parses it.
func (r *Registry) resolve(ctx context.Context, id int, s sr.Schema) (*Resolved, error) {
	t, err := schemas.ParseType(s.Type.String())
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	res := &Resolved{ID: id, Type: t, Text: s.Schema}
	deps := map[string]string{}
	seen := map[SubjectVersion]bool{}
	var walk func(refs []sr.SchemaReference) error
	walk = func(refs []sr.SchemaReference) error {
		for _, ref := range refs {
			key := SubjectVersion{ref.Subject, ref.Version}
			if seen[key] {
				continue
			}
			seen[key] = true
			ss, err := r.Client.SchemaByVersion(ctx, ref.Subject, ref.Version)
			if err != nil {
				return fmt.Errorf("schema id %d: reference %s (%s version %d): %w", id, ref.Name, ref.Subject, ref.Version, err)
			}
			deps[ref.Name] = ss.Schema.Schema
			if err := walk(ss.References); err != nil {
				return err
			}
		}
		return nil
	}
	for _, ref := range s.References {
		res.References = append(res.References, schemas.Reference{Name: ref.Name, Subject: ref.Subject, Version: ref.Version})
	}
	if err := walk(s.References); err != nil {
		return nil, err
	}
	p, err := schemas.Parse(schemas.Schema{Type: t, Text: s.Schema, References: res.References, Deps: deps})
	if err != nil {
		return nil, fmt.Errorf("schema id %d does not parse: %w", id, err)
	}
	res.Parsed = p
	return res, nil
}
