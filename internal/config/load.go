package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
)

// MaxFileSize is the largest devstack.yaml Load accepts.
const MaxFileSize = 1 << 20

// Load reads, interpolates, decodes, defaults and validates a devstack.yaml.
//
// The pipeline: read the file -> parse YAML keeping positions -> read the env file (default .env
// beside the file) -> decode strictly into Config, expanding ${VAR} in values -> apply defaults ->
// run every validator. All problems are returned at once as Errors, sorted by position, each
// formatted "FILE:LINE:COL: path.to.key: what is wrong" with FILE as path was given. On any error
// the returned *Config is nil: there is never a partial result.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data, err := readLimited(abs, MaxFileSize)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: no such file: create it, or point at it with --file FILE", path)
		case err.Error() == "is a directory":
			return nil, fmt.Errorf("%s is a directory: pass the devstack.yaml file inside it", path)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w; devstack.yaml is limited to %d bytes", path, err, MaxFileSize)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	c, err := LoadBytes(path, data, filepath.Dir(abs), environ())
	if err != nil {
		return nil, err
	}
	c.Path = abs
	return c, nil
}

// LoadBytes is Load for a file's content: name is the file name used in messages, dir the directory
// relative paths (and the default .env) are resolved against, env the environment used for ${VAR}
// (nil means empty). It reads the env file and checks that directories and files the config names
// exist, but writes nothing.
func LoadBytes(name string, data []byte, dir string, env map[string]string) (cfg *Config, err error) {
	defer func() {
		// Defence in depth: the loader must never take devstack down, whatever the input.
		if r := recover(); r != nil {
			cfg = nil
			err = Errors{{File: name, Pos: Pos{1, 1}, Path: "file", Msg: fmt.Sprintf("internal error while loading (please report it): %v", r)}}
		}
	}()
	if dir == "" {
		dir = "."
	}
	if d, err := filepath.Abs(dir); err == nil {
		dir = d
	}
	if env == nil {
		env = map[string]string{}
	}
	l := &loader{name: name, dir: dir, env: env, pos: map[string]Pos{}, kpos: map[string]Pos{}, dbTrue: map[string]bool{}, errPaths: map[string]bool{}, budget: MaxExpanded}
	c := l.run(data)
	if len(l.errs) > 0 {
		return nil, sortErrors(l.errs)
	}
	for _, w := range sortErrors(l.warns) {
		c.Warnings = append(c.Warnings, w.Error())
	}
	return c, nil
}

func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// loader carries one load: positions of everything decoded, errors and warnings.
type loader struct {
	name     string            // file name for messages
	dir      string            // absolute directory of the file
	env      map[string]string // process environment
	dotenv   map[string]string // env file values
	errs     []*Error
	warns    []*Error
	pos      map[string]Pos  // path -> position of the value
	kpos     map[string]Pos  // path -> position of the key (or list item)
	dbTrue   map[string]bool // paths of "database: true"
	errPaths map[string]bool // paths with an error
	visits   int
	tooBig   bool // stop decoding: too many values, or variables expanded past MaxExpanded
	budget   int  // bytes variables may still expand to (MaxExpanded for the whole load)
}

// errAt records a problem. Only the first problem of each path is kept: a value that failed to
// decode is not reported again by a validator that sees its zero value.
func (l *loader) errAt(p Pos, path, msg string) {
	if path == "" {
		path = "file" // the document itself
	}
	if l.hasErrAt(path) {
		return
	}
	l.errPaths[path] = true
	l.errs = append(l.errs, &Error{File: l.name, Pos: p, Path: path, Msg: msg})
}

// errf reports a problem at the value of path (or, when it came from a default, at the nearest key
// the user wrote).
func (l *loader) errf(path, format string, a ...any) {
	l.errAt(l.where(path), path, fmt.Sprintf(format, a...))
}

// keyErrf reports a problem at the key of path.
func (l *loader) keyErrf(path, format string, a ...any) {
	p, ok := l.kpos[path]
	if !ok {
		p = l.where(path)
	}
	l.errAt(p, path, fmt.Sprintf(format, a...))
}

func (l *loader) warnAt(p Pos, path, msg string) {
	if path == "" {
		path = "file"
	}
	l.warns = append(l.warns, &Error{File: l.name, Pos: p, Path: path, Msg: msg})
}

// has reports whether path was written in the file.
func (l *loader) has(path string) bool {
	_, ok := l.kpos[path]
	return ok
}

// where is the position of path's value, else of its nearest written ancestor, else 1:1.
func (l *loader) where(path string) Pos {
	if p, ok := l.pos[path]; ok {
		return p
	}
	for q := path; q != ""; q = parentPath(q) {
		if p, ok := l.kpos[q]; ok {
			return p
		}
	}
	return Pos{1, 1}
}

// parentPath drops the last element of a path: a.b[2] -> a.b, a.b -> a, a["x y"] -> a.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i >= 0 {
			// A quoted key may contain [; find the [ that opens the last element.
			if j := strings.LastIndex(p, "[\""); j >= 0 && strings.HasSuffix(p, "\"]") {
				i = j
			}
			return p[:i]
		}
	}
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

func (l *loader) lookup(name string) (string, bool) {
	if v, ok := l.env[name]; ok {
		return v, true
	}
	v, ok := l.dotenv[name]
	return v, ok
}

func (l *loader) run(data []byte) *Config {
	c := &Config{Dir: l.dir, Path: filepath.Join(l.dir, filepath.Base(l.name))}
	if len(data) > MaxFileSize {
		l.errAt(Pos{1, 1}, "file", fmt.Sprintf("file is %d bytes; devstack.yaml is limited to %d", len(data), MaxFileSize))
		return c
	}
	root, ok := l.parse(data)
	if !ok {
		return c
	}
	l.readEnvFile(c, root)
	if l.tooBig {
		return c
	}
	if root.kind == kNull {
		root = &node{kind: kMap, pos: root.pos}
	}
	if root.kind != kMap {
		l.errAt(root.pos, "file", "devstack.yaml must be a mapping with keys such as services, broker, postgres, gateway and tests, not "+root.describe())
		return c
	}
	l.strayServiceKeys(root)
	l.decode("", root, Pos{1, 1}, reflectValue(c))
	if l.tooBig {
		return c
	}
	for name, s := range c.Services {
		if s == nil { // "name:" with nothing under it
			c.Services[name] = &Service{}
		}
	}
	if e := root.get("services"); e != nil && e.val.kind == kMap {
		seen := map[string]bool{}
		for _, se := range e.val.entries {
			if s := c.Services[se.key]; s != nil && !seen[se.key] {
				seen[se.key] = true
				c.ServiceSeq = append(c.ServiceSeq, se.key)
				s.Name, s.Line = se.key, se.keyPos.Line
			}
		}
	}
	l.applyDefaults(c)
	for _, v := range validators {
		v(l, c)
	}
	return c
}

// parse runs the YAML parser and builds the tree. Only one document is allowed.
func (l *loader) parse(data []byte) (root *node, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			l.errAt(Pos{1, 1}, "syntax error", fmt.Sprintf("the YAML parser failed on this file: %v", r))
			root, ok = nil, false
		}
	}()
	tokens := lexer.Tokenize(string(data))
	if len(tokens) > MaxTokens {
		l.errAt(posOf(tokens[MaxTokens]), "file", fmt.Sprintf("more than %d YAML tokens (keys, values, brackets); no stack needs that many: split the stack or remove generated content", MaxTokens))
		return nil, false
	}
	if tk, entries := tooDeep(tokens); tk != nil {
		msg := fmt.Sprintf("lists and mappings nested more than %d levels deep; no stack needs that many: look for unclosed [ or { or runaway indentation", MaxNesting)
		if entries {
			msg = fmt.Sprintf("more than %d keys in one mapping; no stack needs that many: split the stack or remove generated content", MaxEntries)
		}
		l.errAt(posOf(tk), "file", msg)
		return nil, false
	}
	f, err := parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		var ye yaml.Error
		p, msg := Pos{1, 1}, err.Error()
		if errors.As(err, &ye) {
			p, msg = posOf(ye.GetToken()), ye.GetMessage()
		}
		if strings.HasPrefix(msg, "value is not allowed in this context") {
			msg += "; check this line's indentation against the lines above it"
		}
		l.errAt(p, "syntax error", msg)
		return nil, false
	}
	b := &treeBuilder{l: l, anchors: map[string]*node{}}
	var docs []*node
	for i, d := range f.Docs {
		if d == nil || (d.Body == nil && i > 0) {
			continue
		}
		if len(docs) == 1 {
			l.errAt(nodePos(d), "file", "only one YAML document is allowed; remove the second ---")
			break
		}
		docs = append(docs, b.build(d, "", Pos{1, 1}, 0))
	}
	if len(docs) == 0 {
		return &node{kind: kNull, pos: Pos{1, 1}}, true
	}
	return docs[0], true
}

// strayServiceKeys finds keys of a service written at the indent of the service names
// ("  orders:\n  command: x" instead of "    command: x"), which YAML reads as services named command
// and so on. It reports one error with the indentation to fix, and drops those entries (and the
// service left empty by them) so they do not add errors of their own.
func (l *loader) strayServiceKeys(root *node) {
	se := root.get("services")
	if se == nil || se.val.kind != kMap {
		return
	}
	fields := infoOf(reflect.TypeOf(Service{})).fields
	var kept []*entry
	var owner *entry // the service the stray keys belong to
	reported := map[*entry]bool{}
	for _, e := range se.val.entries {
		if _, isField := fields[e.key]; !isField || e.val.kind == kMap {
			kept, owner = append(kept, e), e
			continue
		}
		p := join("services", e.key)
		switch {
		case owner == nil:
			l.errAt(e.keyPos, p, e.key+" is a key of a service, not a service: indent it under a service name")
		case owner.val.kind == kNull:
			if !reported[owner] {
				l.errAt(e.keyPos, p, e.key+" is a key of a service, not a service: indent it and the lines after it under "+owner.key)
			}
			kept = slices.DeleteFunc(kept, func(k *entry) bool { return k == owner })
		default:
			if !reported[owner] {
				l.errAt(e.keyPos, p, e.key+" is a key of a service, not a service: indent it under "+owner.key)
			}
		}
		if owner != nil {
			reported[owner] = true
		}
	}
	if len(kept) != len(se.val.entries) {
		c := *se.val
		c.entries = kept
		se.val = &c
	}
}

// readEnvFile loads env_file (default .env beside devstack.yaml) before anything is interpolated.
func (l *loader) readEnvFile(c *Config, root *node) {
	l.dotenv = map[string]string{}
	c.DotEnv = l.dotenv
	name, explicit, p := ".env", false, Pos{1, 1}
	if e := root.get("env_file"); e != nil && e.val.kind != kNull {
		if e.val.kind != kScalar {
			return // decode reports the wrong type
		}
		r, err := interpolate(e.val.text, func(k string) (string, bool) { v, ok := l.env[k]; return v, ok }, &l.budget)
		if err != nil {
			return // decode reports it
		}
		name, explicit, p = r.out, true, e.val.pos
		if name == "" {
			return
		}
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.dir, name)
	}
	shown := name
	if !filepath.IsAbs(name) {
		shown = filepath.Join(filepath.Dir(l.name), name)
	}
	data, err := readSmallFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return
		}
		l.errAt(p, "env_file", fmt.Sprintf("cannot read %s: %v", shown, unwrapPathError(err)))
		return
	}
	vals, errs := parseDotEnv(data, l.env, &l.budget)
	if l.budget < 0 {
		l.tooBig = true
	}
	for _, e := range errs {
		path := "env_file"
		if e.key != "" {
			path = e.key
		}
		l.errs = append(l.errs, &Error{File: shown, Pos: Pos{e.line, e.col}, Path: path, Msg: e.msg})
	}
	for k, v := range vals {
		l.dotenv[k] = v
	}
}

func readSmallFile(path string) ([]byte, error) { return readLimited(path, MaxFileSize) }

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// StateDirPath is the absolute state directory (default <dir>/.devstack).
func (c *Config) StateDirPath() string {
	d := c.StateDir
	if d == "" {
		d = ".devstack"
	}
	if !filepath.IsAbs(d) {
		d = filepath.Join(c.Dir, d)
	}
	return d
}

// BrokerEnabled reports whether the embedded broker runs (broker.enabled, default true).
func (c *Config) BrokerEnabled() bool { return boolOr(c.Broker.Enabled, true) }

// BrokerAutoCreate reports whether the broker creates unknown topics (broker.auto_create_topics,
// default true).
func (c *Config) BrokerAutoCreate() bool { return boolOr(c.Broker.AutoCreateTopics, true) }

// BrokerPersists reports whether the broker keeps its data in the state directory (broker.persist,
// default true).
func (c *Config) BrokerPersists() bool { return boolOr(c.Broker.Persist, true) }

// PostgresEnabled reports whether PostgreSQL runs: postgres.enabled when set, else whether any
// enabled service has a database or postgres.databases is not empty.
func (c *Config) PostgresEnabled() bool {
	if c.Postgres.Enabled != nil {
		return *c.Postgres.Enabled
	}
	if len(c.Postgres.Databases) > 0 {
		return true
	}
	for _, s := range c.Services {
		if s != nil && !s.Disabled && s.Database != "" {
			return true
		}
	}
	return false
}

// RegistryEnabled reports whether the schema registry runs: registry.enabled when set, else whether the
// broker runs.
func (c *Config) RegistryEnabled() bool { return boolOr(c.Registry.Enabled, c.BrokerEnabled()) }

// TelemetryEnabled reports whether the OTLP receiver runs (telemetry.enabled, default true).
func (c *Config) TelemetryEnabled() bool { return boolOr(c.Telemetry.Enabled, true) }

// TelemetryPersist reports whether spans are kept in <state_dir>/traces (telemetry.persist, default true).
func (c *Config) TelemetryPersist() bool { return boolOr(c.Telemetry.Persist, true) }

// GatewayEnabled reports whether the gateway runs: gateway.enabled when set, else whether any
// route exists.
func (c *Config) GatewayEnabled() bool {
	if c.Gateway.Enabled != nil {
		return *c.Gateway.Enabled
	}
	return len(c.Gateway.Routes) > 0
}

// DevIssuerEnabled reports whether the gateway serves the development OAuth2 issuer
// (gateway.auth.dev_issuer.enabled, default true; false when the gateway is off).
func (c *Config) DevIssuerEnabled() bool {
	return c.GatewayEnabled() && boolOr(c.Gateway.Auth.DevIssuer.Enabled, true)
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}
