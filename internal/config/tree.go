package config

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// The YAML AST from goccy/go-yaml is turned into this small tree first: anchors and aliases are
// resolved, merge keys (<<) applied, duplicate keys reported, and every node keeps its position.
// Decoding into the structs then works on the tree only.

type kind int

const (
	kNull kind = iota
	kScalar
	kMap
	kSeq
)

// scalarType is how YAML 1.2 (core schema) types a scalar.
type scalarType int

const (
	sString scalarType = iota
	sInt
	sFloat
	sBool
	sNull
)

func (t scalarType) String() string {
	switch t {
	case sInt:
		return "an integer"
	case sFloat:
		return "a number"
	case sBool:
		return "a boolean"
	case sNull:
		return "null"
	}
	return "a string"
}

type node struct {
	kind    kind
	st      scalarType // for kScalar
	text    string     // scalar text as written (block scalars: their content)
	plain   bool       // unquoted plain scalar: re-typed after interpolation, like YAML would
	pos     Pos
	entries []*entry // kMap, in file order, merge keys resolved
	glued   string   // kMap written as a:b inside [ ] or { } (no space after the colon): "a:b"
	items   []*node  // kSeq
}

type entry struct {
	key    string
	keyPos Pos
	val    *node
}

func (n *node) describe() string {
	switch n.kind {
	case kNull:
		return "null"
	case kMap:
		return "a mapping"
	case kSeq:
		return "a list"
	}
	return n.st.String()
}

// get returns the value of key in a mapping, or nil.
func (n *node) get(key string) *entry {
	if n == nil || n.kind != kMap {
		return nil
	}
	for _, e := range n.entries {
		if e.key == key {
			return e
		}
	}
	return nil
}

const (
	maxDepth = 100     // nesting of mappings and lists
	maxNodes = 200_000 // nodes visited while decoding, counting alias expansion
)

type treeBuilder struct {
	l       *loader
	anchors map[string]*node
	nodes   int
}

func posOf(tk *token.Token) Pos {
	if tk == nil || tk.Position == nil {
		return Pos{1, 1}
	}
	p := Pos{tk.Position.Line, tk.Position.Column}
	if p.Line < 1 {
		p.Line = 1
	}
	if p.Col < 1 {
		p.Col = 1
	}
	return p
}

func tokenValue(n ast.Node) string {
	if tk := safeToken(n); tk != nil {
		return tk.Value
	}
	return ""
}

func nodePos(n ast.Node) Pos {
	if n == nil {
		return Pos{1, 1}
	}
	return posOf(safeToken(n))
}

// safeToken is n.GetToken(), which panics for some nodes without tokens (e.g. an empty document).
func safeToken(n ast.Node) (tk *token.Token) {
	defer func() {
		if recover() != nil {
			tk = nil
		}
	}()
	return n.GetToken()
}

var simpleKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// join appends a key to a dotted path; odd keys are quoted: env["A B"].
func join(path, key string) string {
	if !simpleKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// build converts an AST node; fallback is the position to use when the node has none.
func (b *treeBuilder) build(n ast.Node, path string, fallback Pos, depth int) *node {
	b.nodes++
	if depth > maxDepth {
		b.l.errAt(nodePos(n), path, fmt.Sprintf("nested more than %d levels deep", maxDepth))
		return &node{kind: kNull, pos: fallback}
	}
	if n == nil {
		return &node{kind: kNull, pos: fallback}
	}
	pos := nodePos(n)
	switch x := n.(type) {
	case *ast.DocumentNode:
		return b.build(x.Body, path, fallback, depth)
	case *ast.NullNode:
		if x.Token != nil && x.Token.Type == token.ImplicitNullType {
			pos = fallback // "key:" with nothing after it: point at the key
		}
		return &node{kind: kNull, pos: pos}
	case *ast.StringNode:
		tt := token.StringType
		if x.Token != nil {
			tt = x.Token.Type
		}
		return &node{kind: kScalar, st: sString, text: x.Value, plain: tt == token.StringType, pos: pos}
	case *ast.LiteralNode:
		s := ""
		if x.Value != nil {
			s = x.Value.Value
		}
		return &node{kind: kScalar, st: sString, text: s, pos: posOf(x.Start)}
	case *ast.IntegerNode:
		return &node{kind: kScalar, st: sInt, text: tokenValue(x), pos: pos}
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return &node{kind: kScalar, st: sFloat, text: tokenValue(n), pos: pos}
	case *ast.BoolNode:
		return &node{kind: kScalar, st: sBool, text: tokenValue(x), pos: pos}
	case *ast.MappingNode:
		// A mapping's token is its first ':'; point at the '{' or the first key instead.
		switch {
		case x.IsFlowStyle && x.Start != nil:
			pos = posOf(x.Start)
		case len(x.Values) > 0 && x.Values[0] != nil && x.Values[0].Key != nil:
			pos = nodePos(x.Values[0].Key)
		}
		out := b.mapping(x.Values, path, pos, depth)
		if len(x.Values) == 1 {
			out.glued = gluedText(x.Values[0])
		}
		return out
	case *ast.MappingValueNode:
		if x.Key != nil {
			pos = nodePos(x.Key)
		}
		out := b.mapping([]*ast.MappingValueNode{x}, path, pos, depth)
		out.glued = gluedText(x)
		return out
	case *ast.SequenceNode:
		out := &node{kind: kSeq, pos: pos}
		for i, v := range x.Values {
			out.items = append(out.items, b.build(v, index(path, i), pos, depth+1))
		}
		return out
	case *ast.AnchorNode:
		v := b.build(x.Value, path, pos, depth+1)
		if x.Name != nil {
			b.anchors[tokenValue(x.Name)] = v
		}
		return v
	case *ast.AliasNode:
		name := ""
		if x.Value != nil {
			name = tokenValue(x.Value)
		}
		if v, ok := b.anchors[name]; ok {
			return v
		}
		b.l.errAt(pos, path, fmt.Sprintf("unknown alias *%s: define the anchor &%s before using it", name, name))
		return &node{kind: kNull, pos: pos}
	case *ast.TagNode:
		tag := ""
		if x.Start != nil {
			tag = x.Start.Value
		}
		v := b.build(x.Value, path, pos, depth+1)
		switch tag {
		case "!!str":
			if v.kind == kScalar || v.kind == kNull {
				c := *v
				c.kind, c.st, c.plain = kScalar, sString, false
				if v.kind == kNull {
					c.text = ""
				}
				return &c
			}
			b.l.errAt(pos, path, "!!str needs a scalar value")
			return v
		case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
			return v
		default:
			b.l.errAt(pos, path, fmt.Sprintf("unsupported tag %s: devstack.yaml knows only !!str", tag))
			return v
		}
	case *ast.MergeKeyNode:
		return &node{kind: kScalar, st: sString, text: "<<", pos: pos}
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &node{kind: kNull, pos: pos}
	default:
		b.l.errAt(pos, path, fmt.Sprintf("unsupported YAML construct (%s)", n.Type()))
		return &node{kind: kNull, pos: pos}
	}
}

// gluedText returns "a:b" when mv was written that way (key, colon and value with no space between),
// which YAML reads as a mapping inside [ ] and { } although it was almost always meant as a string.
func gluedText(mv *ast.MappingValueNode) string {
	if mv == nil || mv.Key == nil || mv.Value == nil {
		return ""
	}
	k, v := safeToken(mv.Key), safeToken(mv.Value)
	if k == nil || v == nil || k.Position == nil || v.Position == nil || k.Type != token.StringType {
		return ""
	}
	switch v.Type {
	case token.StringType, token.IntegerType, token.FloatType, token.BoolType:
	default:
		return ""
	}
	if v.Position.Line != k.Position.Line || v.Position.Column != k.Position.Column+len(k.Value)+1 {
		return ""
	}
	return k.Value + ":" + v.Value
}

// keyText returns a mapping key as text; ok is false for keys that are not scalars.
func (b *treeBuilder) keyText(k ast.Node) (string, bool) {
	switch x := k.(type) {
	case *ast.MappingKeyNode:
		return b.keyText(x.Value)
	case *ast.StringNode:
		return x.Value, true
	case *ast.NullNode:
		return "", true
	case *ast.AliasNode:
		if x.Value != nil {
			if v, ok := b.anchors[tokenValue(x.Value)]; ok && v.kind == kScalar {
				return v.text, true
			}
		}
		return "", false
	case *ast.TagNode:
		return b.keyText(x.Value)
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return tokenValue(k), true
	}
	return "", false
}

func (b *treeBuilder) mapping(values []*ast.MappingValueNode, path string, pos Pos, depth int) *node {
	out := &node{kind: kMap, pos: pos}
	explicit := map[string]Pos{}
	var merges []*node
	for _, mv := range values {
		if mv == nil {
			continue
		}
		if mv.Key != nil && mv.Key.IsMergeKey() {
			v := b.build(mv.Value, path, nodePos(mv.Key), depth+1)
			srcs := []*node{v}
			if v.kind == kSeq {
				srcs = v.items
			}
			for _, s := range srcs {
				if s.kind != kMap {
					b.l.errAt(nodePos(mv.Key), path, "<< (merge key) needs a mapping or a list of mappings, usually *anchor")
					continue
				}
				merges = append(merges, s)
			}
			continue
		}
		kp := nodePos(mv.Key)
		key, ok := b.keyText(mv.Key)
		if !ok {
			b.l.errAt(kp, path, "keys must be plain strings")
			continue
		}
		p := join(path, key)
		if first, dup := explicit[key]; dup {
			b.l.errAt(kp, p, fmt.Sprintf("duplicate key (first defined at line %d)", first.Line))
			continue
		}
		explicit[key] = kp
		out.entries = append(out.entries, &entry{key: key, keyPos: kp, val: b.build(mv.Value, p, kp, depth+1)})
	}
	if len(merges) == 0 {
		return out
	}
	// Keys written in the mapping win over merged ones; among merged ones, the first source wins.
	var merged []*entry
	have := map[string]bool{}
	for k := range explicit {
		have[k] = true
	}
	for _, m := range merges {
		for _, e := range m.entries {
			if have[e.key] {
				continue
			}
			have[e.key] = true
			merged = append(merged, e)
		}
	}
	out.entries = append(merged, out.entries...)
	return out
}
