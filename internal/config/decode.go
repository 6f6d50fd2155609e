package config

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/token"
)

// The decoder walks the tree and fills the structs by reflection, using the yaml tags. Unlike a
// YAML library's decoder it does not stop at the first problem: every unknown key, wrong type and
// missing required key is reported, each at its own position. Keys starting with "x-" are ignored
// everywhere (extension fields for YAML anchors, as in docker compose).

func reflectValue(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }

type fieldInfo struct {
	index    int
	name     string
	required bool
}

type structInfo struct {
	fields map[string]fieldInfo
	names  []string // sorted, for messages
}

var structInfos sync.Map // reflect.Type -> *structInfo

func infoOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{fields: map[string]fieldInfo{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		si.fields[name] = fieldInfo{index: i, name: name, required: !strings.Contains(opts, "omitempty")}
		si.names = append(si.names, name)
	}
	sort.Strings(si.names)
	structInfos.Store(t, si)
	return si
}

// hookFunc decodes a field that accepts more than one shape (e.g. database: true | name).
type hookFunc func(l *loader, path string, n *node, v reflect.Value)

var hooks map[reflect.Type]map[string]hookFunc

func init() {
	envHook := hookFunc((*loader).decodeEnv)
	hooks = map[reflect.Type]map[string]hookFunc{
		reflect.TypeOf(Config{}): {"env": envHook},
		reflect.TypeOf(Test{}):   {"env": envHook},
		reflect.TypeOf(Service{}): {
			"env":        envHook,
			"database":   (*loader).decodeDatabase,
			"restart":    (*loader).decodeRestart,
			"watch":      (*loader).decodeWatch,
			"depends_on": (*loader).decodeDependsOn,
		},
	}
}

// enter does the bookkeeping for one value: the node budget, positions, and for scalars
// interpolation. It returns the node to decode (nil: nothing more to do).
func (l *loader) enter(path string, n *node, keyPos Pos) *node {
	if l.tooBig {
		return nil
	}
	l.visits++
	if l.visits > maxNodes {
		l.tooBig = true
		l.errAt(n.pos, path, fmt.Sprintf("too many values (more than %d after expanding aliases); is an anchor used recursively?", maxNodes))
		return nil
	}
	if path != "" {
		l.kpos[path] = keyPos
		l.pos[path] = n.pos
	}
	if n.kind == kScalar {
		return l.resolve(path, n)
	}
	return n
}

// resolve interpolates a string scalar. A plain (unquoted) scalar is re-typed from its new text,
// as if the value had been written in the file: `replicas: ${N:-2}` is the integer 2.
func (l *loader) resolve(path string, n *node) *node {
	if n.st != sString || !strings.Contains(n.text, "$") {
		return n
	}
	r, err := interpolate(n.text, l.lookup, &l.budget)
	if err != nil {
		l.errAt(n.pos, path, err.Error())
		if errors.Is(err, errExpandedTooBig) {
			l.tooBig = true // every value after this one would say the same
		}
		return nil
	}
	for _, name := range r.unset {
		l.warnAt(n.pos, path, fmt.Sprintf("variable %s is not set; using an empty string (set it in the environment or the env file, or write ${%s:-default})", name, name))
	}
	c := *n
	c.text = r.out
	if n.plain && r.out != n.text {
		c.st = typeOfPlain(r.out)
		if c.st == sNull {
			c.kind = kNull
		}
	}
	return &c
}

// typeOfPlain types a plain scalar the way the YAML parser does (YAML 1.2 core schema).
func typeOfPlain(s string) scalarType {
	if strings.TrimSpace(s) == "" {
		return sNull
	}
	if strings.TrimSpace(s) != s || strings.ContainsAny(s, "\n\r") {
		return sString
	}
	switch token.New(s, s, &token.Position{}).Type {
	case token.NullType:
		return sNull
	case token.BoolType:
		return sBool
	case token.IntegerType, token.BinaryIntegerType, token.OctetIntegerType, token.HexIntegerType:
		return sInt
	case token.FloatType, token.InfinityType, token.NanType:
		return sFloat
	}
	return sString
}

// decode fills v from n. keyPos is where the key (or list item) that holds n is.
func (l *loader) decode(path string, n *node, keyPos Pos, v reflect.Value) {
	if n = l.enter(path, n, keyPos); n != nil {
		l.decodeValue(path, n, v)
	}
}

func (l *loader) typeErr(path string, n *node, want string) {
	got := n.describe()
	if n.kind == kScalar {
		got = strconv.Quote(abbreviate(n.text))
		if n.st != sString {
			got = n.st.String() + " (" + abbreviate(n.text) + ")"
		}
	}
	msg := fmt.Sprintf("must be %s, got %s", want, got)
	if n.kind == kMap && n.glued != "" && want != "a mapping" {
		msg += fmt.Sprintf(" (YAML reads %s in [ ] or { } as key: value); quote it: %q", n.glued, n.glued)
	}
	l.errAt(n.pos, path, msg)
}

var (
	durationType = reflect.TypeOf(Duration(0))
	byteSizeType = reflect.TypeOf(ByteSize(0))
)

// decodeValue decodes an already entered node.
func (l *loader) decodeValue(path string, n *node, v reflect.Value) {
	if n.kind == kNull {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if v.CanAddr() {
		if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
			want := "a value"
			switch v.Type() {
			case durationType:
				want = "a duration like 500ms, 30s or 2h"
			case byteSizeType:
				want = "a size like 512KiB, 10MiB or 1GiB"
			}
			if n.kind != kScalar || n.st == sBool {
				l.typeErr(path, n, want)
				return
			}
			if err := tu.UnmarshalText([]byte(n.text)); err != nil {
				l.errAt(n.pos, path, err.Error())
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		l.decodeValue(path, n, v.Elem())
	case reflect.Struct:
		l.decodeStruct(path, n, v)
	case reflect.Map:
		if n.kind != kMap {
			l.typeErr(path, n, "a mapping")
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for _, e := range n.entries {
			p := join(path, e.key)
			ev := reflect.New(v.Type().Elem()).Elem()
			l.decode(p, e.val, e.keyPos, ev)
			v.SetMapIndex(reflect.ValueOf(e.key), ev)
		}
	case reflect.Slice:
		if n.kind != kSeq {
			l.typeErr(path, n, "a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.items), len(n.items))
		for i, it := range n.items {
			l.decode(index(path, i), it, it.pos, s.Index(i))
		}
		v.Set(s)
	case reflect.String:
		if n.kind != kScalar {
			l.typeErr(path, n, "a string")
			return
		}
		v.SetString(n.text)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n = quotedAs(n, sInt)
		if n.kind != kScalar || n.st != sInt {
			l.typeErr(path, n, "an integer")
			return
		}
		num := token.ToNumber(n.text)
		var i int64
		ok := num != nil
		if ok {
			switch x := num.Value.(type) {
			case int64:
				i = x
			case uint64:
				ok = x <= math.MaxInt64
				i = int64(x)
			default:
				ok = false
			}
		}
		if !ok || v.OverflowInt(i) {
			l.errAt(n.pos, path, fmt.Sprintf("integer %s is out of range", abbreviate(n.text)))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		n = quotedAs(n, sInt, sFloat)
		if n.kind != kScalar || (n.st != sInt && n.st != sFloat) {
			l.typeErr(path, n, "a number")
			return
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.text, "_", ""), 64)
		if err != nil && n.st == sInt {
			if num := token.ToNumber(n.text); num != nil {
				switch x := num.Value.(type) {
				case int64:
					f, err = float64(x), nil
				case uint64:
					f, err = float64(x), nil
				}
			}
		}
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			l.errAt(n.pos, path, fmt.Sprintf("must be a finite number, got %s", abbreviate(n.text)))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		n = quotedAs(n, sBool)
		if n.kind != kScalar || n.st != sBool {
			l.typeErr(path, n, "true or false")
			return
		}
		v.SetBool(strings.EqualFold(n.text, "true"))
	default:
		l.errAt(n.pos, path, fmt.Sprintf("cannot decode into %s", v.Type()))
	}
}

// quotedAs lets a quoted scalar stand for a number or boolean when its text is one ("8080",
// "${PORT:-8080}"), as docker compose does.
func quotedAs(n *node, types ...scalarType) *node {
	if n.kind != kScalar || n.st != sString || n.plain {
		return n
	}
	t := typeOfPlain(n.text)
	for _, want := range types {
		if t == want {
			c := *n
			c.st = t
			return &c
		}
	}
	return n
}

var requiredHints = map[string]string{
	"Service.command": "the command that starts it, e.g. npm run start:dev",
	"Subject.file":    "the schema file (.avsc, .json or .proto) relative to devstack.yaml",
}

func (l *loader) decodeStruct(path string, n *node, v reflect.Value) {
	si := infoOf(v.Type())
	if n.kind != kMap {
		l.typeErr(path, n, "a mapping")
		return
	}
	seen := map[string]bool{}
	for _, e := range n.entries {
		if strings.HasPrefix(e.key, "x-") {
			continue
		}
		p := join(path, e.key)
		f, ok := si.fields[e.key]
		if !ok {
			l.errAt(e.keyPos, p, unknownKeyMsg(e.key, si.names))
			continue
		}
		seen[e.key] = true
		fv := v.Field(f.index)
		if h := hooks[v.Type()][e.key]; h != nil {
			if m := l.enter(p, e.val, e.keyPos); m != nil {
				h(l, p, m, fv)
			}
			continue
		}
		l.decode(p, e.val, e.keyPos, fv)
	}
	if l.tooBig {
		return
	}
	for _, name := range si.names {
		f := si.fields[name]
		if !f.required {
			continue
		}
		p := join(path, name)
		fv := v.Field(f.index)
		switch {
		case !seen[name]:
			msg := "is required"
			if h, ok := requiredHints[v.Type().Name()+"."+name]; ok {
				msg += ": " + h
			}
			l.errAt(l.kposOr(path, n.pos), p, msg)
		case (fv.Kind() == reflect.String || fv.Kind() == reflect.Slice) && fv.Len() == 0:
			if !l.hasErrAt(p) {
				l.errf(p, "must not be empty")
			}
		}
	}
}

// hasErrAt reports whether an error about path was already reported (one is enough).
func (l *loader) hasErrAt(path string) bool { return l.errPaths[path] }

func (l *loader) kposOr(path string, def Pos) Pos {
	if p, ok := l.kpos[path]; ok {
		return p
	}
	return def
}

func unknownKeyMsg(key string, valid []string) string {
	best, bestD := "", 3
	for _, k := range valid {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key; did you mean %q?", best)
	}
	return "unknown key; valid keys are " + strings.Join(valid, ", ")
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decodeEnv accepts a mapping (values: any scalar, null is "") or a list of KEY=VALUE strings.
func (l *loader) decodeEnv(path string, n *node, v reflect.Value) {
	if n.kind != kSeq {
		l.decodeValue(path, n, v)
		return
	}
	m := map[string]string{}
	for i, it := range n.items {
		ip := index(path, i)
		it = l.enter(ip, it, it.pos)
		if it == nil {
			continue
		}
		if it.kind != kScalar {
			l.typeErr(ip, it, "a KEY=VALUE string")
			continue
		}
		k, val, ok := strings.Cut(it.text, "=")
		if !ok {
			l.errAt(it.pos, ip, fmt.Sprintf("must be KEY=VALUE, got %q", abbreviate(it.text)))
			continue
		}
		p := join(path, k)
		if _, dup := m[k]; dup {
			l.errAt(it.pos, p, "duplicate variable")
			continue
		}
		l.kpos[p], l.pos[p] = it.pos, it.pos
		m[k] = val
	}
	v.Set(reflect.ValueOf(m))
}

// decodeDatabase accepts true (a database named after the service), false, or a name.
func (l *loader) decodeDatabase(path string, n *node, v reflect.Value) {
	switch {
	case n.kind == kNull:
		v.SetString("")
	case n.kind == kScalar && n.st == sBool:
		v.SetString("")
		if strings.EqualFold(n.text, "true") {
			l.dbTrue[path] = true
		}
	case n.kind == kScalar && n.st == sString:
		v.SetString(n.text)
	default:
		l.typeErr(path, n, "true, false or a database name")
	}
}

// decodeRestart accepts a policy name (restart: always) or a mapping.
func (l *loader) decodeRestart(path string, n *node, v reflect.Value) {
	if n.kind == kScalar {
		v.FieldByName("Policy").SetString(n.text)
		return
	}
	l.decodeValue(path, n, v)
}

// decodeWatch accepts true (defaults), false (off) or a mapping.
func (l *loader) decodeWatch(path string, n *node, v reflect.Value) {
	if n.kind == kScalar && n.st == sBool {
		w := &Watch{Disabled: !strings.EqualFold(n.text, "true")}
		v.Set(reflect.ValueOf(w))
		return
	}
	l.decodeValue(path, n, v)
}

// decodeDependsOn accepts a list of names or a mapping of name to a condition, null or
// {condition: ...}.
func (l *loader) decodeDependsOn(path string, n *node, v reflect.Value) {
	m := map[string]Dependency{}
	switch n.kind {
	case kNull:
	case kSeq:
		for i, it := range n.items {
			ip := index(path, i)
			it = l.enter(ip, it, it.pos)
			if it == nil {
				continue
			}
			if it.kind != kScalar || it.st != sString {
				l.typeErr(ip, it, "a service name")
				continue
			}
			p := join(path, it.text)
			if _, dup := m[it.text]; dup {
				l.errAt(it.pos, p, "listed twice")
				continue
			}
			l.kpos[p], l.pos[p] = it.pos, it.pos
			m[it.text] = Dependency{}
		}
	case kMap:
		for _, e := range n.entries {
			p := join(path, e.key)
			val := l.enter(p, e.val, e.keyPos)
			if val == nil {
				continue
			}
			var d Dependency
			switch {
			case val.kind == kScalar && val.st == sString:
				d.Condition = val.text
			case val.kind == kMap || val.kind == kNull:
				l.decodeValue(p, val, reflect.ValueOf(&d).Elem())
			default:
				l.typeErr(p, val, "a condition (started, healthy, completed) or a mapping")
				continue
			}
			m[e.key] = d
		}
	default:
		l.typeErr(path, n, "a list of service names or a mapping")
		return
	}
	v.Set(reflect.ValueOf(m))
}
