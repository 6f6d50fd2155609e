package schemas

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// jsonCompatible says why a document valid against writer may be invalid against reader, by Confluent's
// documented JSON Schema rules: a change is compatible when the reader accepts everything the writer
// does. Each message is "RULE at #/json/pointer: what changed", RULE named as Confluent names it
// (TYPE_CHANGED, PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL, ...). $refs are followed (recursive
// definitions included).
func jsonCompatible(reader, writer *JSONSchema) []string {
	c := &jsonChecker{onStack: map[[2]*jsonschema.Schema]bool{}, budget: jsonCheckBudget}
	msgs := c.compat(reader.Schema, writer.Schema, "#")
	if c.budget < 0 {
		msgs = append(msgs, jsonMsg("TOO_COMPLEX", "#", "the comparison took more than %d steps (combined schemas nested too deep): treated as incompatible", jsonCheckBudget))
	}
	return msgs
}

// jsonCheckBudget bounds the subschema comparisons of one check: nested oneOf/anyOf/allOf compare
// every pair of alternatives, which a hostile schema could make exponential.
const jsonCheckBudget = 200_000

type jsonChecker struct {
	// onStack holds the (reader, writer) pairs being compared: met again through a recursive $ref, a
	// pair is assumed compatible (the rest of the comparison decides).
	onStack map[[2]*jsonschema.Schema]bool
	// budget is the comparisons left; below zero the check stops (and reports TOO_COMPLEX).
	budget int
}

var (
	jsonTrue  = true
	jsonFalse = false
	// falseSchema and trueSchema stand for the boolean schemas the keywords' absence or false means.
	falseSchema = &jsonschema.Schema{Bool: &jsonFalse}
	trueSchema  = &jsonschema.Schema{Bool: &jsonTrue}
)

func jsonMsg(rule, path, format string, args ...any) string {
	return fmt.Sprintf("%s at %s: %s", rule, path, fmt.Sprintf(format, args...))
}

// deref follows $ref (the keywords next to it are compared apart: see refSiblings).
func deref(s *jsonschema.Schema) *jsonschema.Schema {
	for i := 0; s != nil && s.Ref != nil && i < 1000; i++ {
		s = s.Ref
	}
	if s == nil {
		return trueSchema
	}
	return s
}

// refSiblings is s without its $ref when s has a $ref with assertions next to it that apply (2019-09
// and later; draft-07 ignores them).
func refSiblings(s *jsonschema.Schema) (*jsonschema.Schema, bool) {
	if s.Ref == nil || s.DraftVersion < 2019 {
		return nil, false
	}
	rest := *s
	rest.Ref = nil
	if acceptsAll(&rest) {
		return nil, false
	}
	return &rest, true
}

// acceptsAll: the schema has no assertion (true, {} or annotations only).
func acceptsAll(s *jsonschema.Schema) bool {
	s = deref(s)
	if s.Bool != nil {
		return *s.Bool
	}
	return s.RecursiveRef == nil && s.DynamicRef == nil && s.Types == nil && s.Enum == nil && s.Const == nil &&
		s.Not == nil && len(s.AllOf) == 0 && len(s.AnyOf) == 0 && len(s.OneOf) == 0 && s.If == nil &&
		s.MaxProperties == nil && s.MinProperties == nil && len(s.Required) == 0 && s.PropertyNames == nil &&
		len(s.Properties) == 0 && len(s.PatternProperties) == 0 && s.AdditionalProperties == nil &&
		len(s.Dependencies) == 0 && len(s.DependentRequired) == 0 && len(s.DependentSchemas) == 0 &&
		s.UnevaluatedProperties == nil && s.MinItems == nil && s.MaxItems == nil && !s.UniqueItems &&
		s.Contains == nil && s.Items == nil && s.AdditionalItems == nil && len(s.PrefixItems) == 0 &&
		s.Items2020 == nil && s.UnevaluatedItems == nil && s.MinLength == nil && s.MaxLength == nil &&
		s.Pattern == nil && s.Maximum == nil && s.Minimum == nil && s.ExclusiveMaximum == nil &&
		s.ExclusiveMinimum == nil && s.MultipleOf == nil
}

func rejectsAll(s *jsonschema.Schema) bool {
	s = deref(s)
	return s.Bool != nil && !*s.Bool
}

// boolOrSchema turns additionalProperties / additionalItems (nil, bool or *Schema) into a schema; nil
// is "absent".
func boolOrSchema(v any) *jsonschema.Schema {
	switch v := v.(type) {
	case bool:
		if v {
			return trueSchema
		}
		return falseSchema
	case *jsonschema.Schema:
		return v
	}
	return nil
}

// combinator is a schema's allOf/anyOf/oneOf (the first present).
func combinator(s *jsonschema.Schema) (string, []*jsonschema.Schema) {
	switch {
	case len(s.AllOf) > 0:
		return "allOf", s.AllOf
	case len(s.AnyOf) > 0:
		return "anyOf", s.AnyOf
	case len(s.OneOf) > 0:
		return "oneOf", s.OneOf
	}
	return "", nil
}

// withoutCombinator is s without its allOf/anyOf/oneOf.
func withoutCombinator(s *jsonschema.Schema) *jsonschema.Schema {
	c := *s
	c.AllOf, c.AnyOf, c.OneOf = nil, nil, nil
	return &c
}

func (c *jsonChecker) compat(r, w *jsonschema.Schema, path string) []string {
	key := [2]*jsonschema.Schema{r, w}
	if c.onStack[key] {
		return nil
	}
	if c.budget--; c.budget < 0 {
		return []string{"TOO_COMPLEX"}
	}
	c.onStack[key] = true
	defer delete(c.onStack, key)

	// Since 2019-09 a $ref's siblings apply too: the reader must accept as both, the writer's
	// documents satisfy both.
	if rest, ok := refSiblings(r); ok {
		return append(c.compat(r.Ref, w, path), c.compat(rest, w, path)...)
	}
	if rest, ok := refSiblings(w); ok {
		msgs := c.compat(r, w.Ref, path)
		if len(msgs) > 0 && c.compatible(r, rest, path) {
			return nil
		}
		return msgs
	}
	r, w = deref(r), deref(w)

	switch {
	case acceptsAll(r), rejectsAll(w):
		return nil
	case rejectsAll(r):
		return []string{jsonMsg("SCHEMA_REMOVED", path, "the reader accepts nothing (false)")}
	}
	rk, _ := combinator(r)
	wk, _ := combinator(w)
	if rk != "" || wk != "" {
		return c.combined(r, w, path)
	}
	if acceptsAll(w) {
		return []string{jsonMsg("SCHEMA_ADDED", path, "the writer accepted any value; the reader now restricts it")}
	}
	return c.plain(r, w, path)
}

// compatible is compat without messages.
func (c *jsonChecker) compatible(r, w *jsonschema.Schema, path string) bool {
	return len(c.compat(r, w, path)) == 0
}

// combined compares schemas of which at least one has allOf/anyOf/oneOf.
func (c *jsonChecker) combined(r, w *jsonschema.Schema, path string) []string {
	rk, rsubs := combinator(r)
	wk, wsubs := combinator(w)
	if rk == "" {
		// Only the writer combines: its documents satisfy its other keywords and its subschemas.
		wrest := withoutCombinator(w)
		var restMsgs []string
		if !acceptsAll(wrest) {
			if restMsgs = c.compat(r, wrest, path); len(restMsgs) == 0 {
				return nil
			}
		}
		if wk == "allOf" {
			for _, ws := range wsubs {
				if c.compatible(r, ws, path) {
					return nil
				}
			}
		} else {
			all := true
			for _, ws := range wsubs {
				if !c.compatible(r, ws, path) {
					all = false
					break
				}
			}
			if all {
				return nil
			}
		}
		if restMsgs != nil {
			return restMsgs
		}
		if len(wsubs) == 1 {
			return c.compat(r, wsubs[0], path+"/"+wk+"/0")
		}
		return []string{jsonMsg("TYPE_CHANGED", path+"/"+wk, "the reader does not accept every alternative of the writer's %s", wk)}
	}

	var msgs []string
	// The reader's keywords next to its combinator must accept the writer's documents.
	if rrest := withoutCombinator(r); !acceptsAll(rrest) {
		msgs = append(msgs, c.compat(rrest, w, path)...)
	}
	cpath := path + "/" + rk
	if wk == "" {
		switch rk {
		case "allOf":
			for i, rs := range rsubs {
				msgs = append(msgs, c.compat(rs, w, fmt.Sprintf("%s/%d", cpath, i))...)
			}
		default:
			if len(rsubs) == 1 {
				return append(msgs, c.compat(rsubs[0], w, cpath+"/0")...)
			}
			ok := c.someAccepts(rsubs, w, cpath)
			if !ok && w.Types != nil && len(w.Types.ToStrings()) > 1 {
				// {"type": ["string", "null"]} read as {"oneOf": [{"type": "null"}, {"type": "string"}]}:
				// each of the writer's types must find an alternative.
				ok = true
				for _, typ := range w.Types.ToStrings() {
					one := *w
					one.Types = new(jsonschema.Types)
					one.Types.Add(typ)
					if !c.someAccepts(rsubs, &one, cpath) {
						ok = false
						break
					}
				}
			}
			if !ok {
				msgs = append(msgs, jsonMsg("TYPE_CHANGED", cpath, "no alternative of the reader's %s accepts the writer's schema", rk))
			}
		}
		return msgs
	}

	// Both combine.
	switch {
	case rk != wk && rk != "anyOf":
		return append(msgs, jsonMsg("COMBINED_TYPE_CHANGED", cpath, "the writer's %s became %s", wk, rk))
	case rk == "allOf" && len(wsubs) < len(rsubs):
		return append(msgs, jsonMsg("PRODUCT_TYPE_EXTENDED", cpath, "allOf grew from %d to %d subschemas", len(wsubs), len(rsubs)))
	case rk != "allOf" && len(wsubs) > len(rsubs):
		return append(msgs, jsonMsg("SUM_TYPE_NARROWED", cpath, "%s shrank from %d to %d subschemas", rk, len(wsubs), len(rsubs)))
	}
	need := len(wsubs)
	if rk == "allOf" {
		need = len(rsubs)
	}
	edges := make([][]int, len(rsubs))
	for i, rs := range rsubs {
		for j, ws := range wsubs {
			if c.compatible(rs, ws, cpath) {
				edges[i] = append(edges[i], j)
			}
		}
	}
	if n := maxMatching(edges, len(wsubs)); n < need {
		msgs = append(msgs, jsonMsg("COMBINED_TYPE_SUBSCHEMAS_CHANGED", cpath, "only %d of %d subschemas have a compatible counterpart", n, need))
	}
	return msgs
}

// someAccepts: one of the alternatives accepts the writer's documents.
func (c *jsonChecker) someAccepts(alternatives []*jsonschema.Schema, w *jsonschema.Schema, path string) bool {
	for _, a := range alternatives {
		if c.compatible(a, w, path) {
			return true
		}
	}
	return false
}

// maxMatching is the size of a maximum bipartite matching (left i to right edges[i][k]).
func maxMatching(edges [][]int, right int) int {
	match := make([]int, right)
	for i := range match {
		match[i] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for _, j := range edges[i] {
			if seen[j] {
				continue
			}
			seen[j] = true
			if match[j] < 0 || try(match[j], seen) {
				match[j] = i
				return true
			}
		}
		return false
	}
	n := 0
	for i := range edges {
		if try(i, make([]bool, right)) {
			n++
		}
	}
	return n
}

// JSON value kinds, integer being a subset of number.
const (
	kNull = 1 << iota
	kBoolean
	kInteger
	kNumber // non-integral numbers
	kString
	kArray
	kObject
	kAll = kNull | kBoolean | kInteger | kNumber | kString | kArray | kObject
)

var kindNames = []struct {
	k    int
	name string
}{{kNull, "null"}, {kBoolean, "boolean"}, {kInteger, "integer"}, {kNumber, "number"}, {kString, "string"}, {kArray, "array"}, {kObject, "object"}}

func kindString(k int) string {
	var names []string
	for _, n := range kindNames {
		if k&n.k != 0 {
			names = append(names, n.name)
		}
	}
	if k&kNumber != 0 && k&kInteger != 0 {
		// "number" includes integers
		for i, n := range names {
			if n == "integer" {
				names = append(names[:i], names[i+1:]...)
				break
			}
		}
	}
	return strings.Join(names, ",")
}

// kinds is the set of value kinds s accepts by its type keyword, or, with none, the kinds its keywords
// describe (a schema with "properties" and no type is an object schema, as Confluent reads it).
func kinds(s *jsonschema.Schema) int {
	if s.Types != nil {
		k := 0
		for _, t := range s.Types.ToStrings() {
			switch t {
			case "null":
				k |= kNull
			case "boolean":
				k |= kBoolean
			case "integer":
				k |= kInteger
			case "number":
				k |= kInteger | kNumber
			case "string":
				k |= kString
			case "array":
				k |= kArray
			case "object":
				k |= kObject
			}
		}
		return k
	}
	k := 0
	if len(s.Properties) > 0 || len(s.PatternProperties) > 0 || s.AdditionalProperties != nil || len(s.Required) > 0 ||
		s.MaxProperties != nil || s.MinProperties != nil || len(s.Dependencies) > 0 || s.PropertyNames != nil {
		k |= kObject
	}
	if s.Items != nil || s.AdditionalItems != nil || len(s.PrefixItems) > 0 || s.Items2020 != nil || s.MinItems != nil ||
		s.MaxItems != nil || s.UniqueItems || s.Contains != nil {
		k |= kArray
	}
	if s.MinLength != nil || s.MaxLength != nil || s.Pattern != nil {
		k |= kString
	}
	if s.Maximum != nil || s.Minimum != nil || s.ExclusiveMaximum != nil || s.ExclusiveMinimum != nil || s.MultipleOf != nil {
		k |= kInteger | kNumber
	}
	if k == 0 {
		return kAll
	}
	return k
}

// plain compares schemas without combinators, neither accepting everything.
func (c *jsonChecker) plain(r, w *jsonschema.Schema, path string) []string {
	var msgs []string
	add := func(rule, format string, args ...any) { msgs = append(msgs, jsonMsg(rule, path, format, args...)) }

	// not: the reader's not(R) accepts the writer's not(W) when W accepts whatever R does.
	switch {
	case r.Not != nil && w.Not != nil:
		if !c.compatible(w.Not, r.Not, path+"/not") {
			add("NOT_TYPE_NARROWED", "the reader's not excludes values the writer's allowed")
		}
	case r.Not != nil:
		add("NOT_TYPE_EXTENDED", "not added: values the writer accepted may be excluded")
	}

	// enum / const: the writer's values are exactly its enum; each must be valid against the reader.
	if vals, ok := enumValues(w); ok {
		for _, v := range vals {
			if err := r.Validate(v); err != nil {
				rule := "ENUM_ARRAY_NARROWED"
				if w.Const != nil {
					rule = "CONST_CHANGED"
				}
				add(rule, "the writer's value %s is not valid against the reader", compactValue(v))
			}
		}
		return msgs
	}
	if r.Enum != nil || r.Const != nil {
		add("ENUM_ARRAY_CHANGED", "the reader restricts values to an enum/const the writer did not have")
	}

	rk, wk := kinds(r), kinds(w)
	if missing := wk &^ rk; missing != 0 {
		switch {
		case rk&wk == 0:
			add("TYPE_CHANGED", "type changed from %s to %s", kindString(wk), kindString(rk))
		default:
			add("TYPE_NARROWED", "the reader no longer accepts %s (type %s, was %s)", kindString(missing), kindString(rk), kindString(wk))
		}
	}
	both := rk & wk

	if both&(kInteger|kNumber) != 0 {
		msgs = append(msgs, c.numbers(r, w, path)...)
	}
	if both&kString != 0 {
		msgs = append(msgs, limit(path, "maxLength", "MAX_LENGTH", r.MaxLength, w.MaxLength, -1)...)
		msgs = append(msgs, limit(path, "minLength", "MIN_LENGTH", r.MinLength, w.MinLength, +1)...)
		rp, wp := regexpString(r.Pattern), regexpString(w.Pattern)
		switch {
		case rp != "" && wp == "":
			add("PATTERN_ADDED", "pattern %q added", rp)
		case rp != "" && rp != wp:
			add("PATTERN_CHANGED", "pattern changed from %q to %q", wp, rp)
		}
	}
	if both&kArray != 0 {
		msgs = append(msgs, c.arrays(r, w, path)...)
	}
	if both&kObject != 0 {
		msgs = append(msgs, c.objects(r, w, path)...)
	}
	if r.If != nil && w.If == nil {
		add("CONDITION_ADDED", "if/then/else added: values the writer accepted may be rejected")
	}
	return msgs
}

// enumValues is the writer's finite set of values (const or enum).
func enumValues(s *jsonschema.Schema) ([]any, bool) {
	if s.Const != nil {
		return []any{*s.Const}, true
	}
	if s.Enum != nil {
		return s.Enum.Values, true
	}
	return nil, false
}

func compactValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func regexpString(r jsonschema.Regexp) string {
	if r == nil {
		return ""
	}
	return r.String()
}

// limit compares an int bound: dir -1 is a maximum (the reader may not lower it), +1 a minimum (the
// reader may not raise it).
func limit(path, keyword, rule string, r, w *int, dir int) []string {
	switch {
	case r == nil:
		return nil
	case w == nil:
		return []string{jsonMsg(rule+"_ADDED", path, "%s %d added", keyword, *r)}
	case dir < 0 && *r < *w:
		return []string{jsonMsg(rule+"_DECREASED", path, "%s decreased from %d to %d", keyword, *w, *r)}
	case dir > 0 && *r > *w:
		return []string{jsonMsg(rule+"_INCREASED", path, "%s increased from %d to %d", keyword, *w, *r)}
	}
	return nil
}

func ratLimit(path, keyword, rule string, r, w *big.Rat, dir int) []string {
	switch {
	case r == nil:
		return nil
	case w == nil:
		return []string{jsonMsg(rule+"_ADDED", path, "%s %s added", keyword, r.RatString())}
	case dir < 0 && r.Cmp(w) < 0:
		return []string{jsonMsg(rule+"_DECREASED", path, "%s decreased from %s to %s", keyword, w.RatString(), r.RatString())}
	case dir > 0 && r.Cmp(w) > 0:
		return []string{jsonMsg(rule+"_INCREASED", path, "%s increased from %s to %s", keyword, w.RatString(), r.RatString())}
	}
	return nil
}

func (c *jsonChecker) numbers(r, w *jsonschema.Schema, path string) []string {
	var msgs []string
	msgs = append(msgs, ratLimit(path, "maximum", "MAXIMUM", r.Maximum, w.Maximum, -1)...)
	msgs = append(msgs, ratLimit(path, "minimum", "MINIMUM", r.Minimum, w.Minimum, +1)...)
	msgs = append(msgs, ratLimit(path, "exclusiveMaximum", "EXCLUSIVE_MAXIMUM", r.ExclusiveMaximum, w.ExclusiveMaximum, -1)...)
	msgs = append(msgs, ratLimit(path, "exclusiveMinimum", "EXCLUSIVE_MINIMUM", r.ExclusiveMinimum, w.ExclusiveMinimum, +1)...)
	switch rm, wm := r.MultipleOf, w.MultipleOf; {
	case rm == nil:
	case wm == nil:
		msgs = append(msgs, jsonMsg("MULTIPLE_OF_ADDED", path, "multipleOf %s added", rm.RatString()))
	case rm.Cmp(wm) > 0:
		msgs = append(msgs, jsonMsg("MULTIPLE_OF_EXPANDED", path, "multipleOf increased from %s to %s", wm.RatString(), rm.RatString()))
	case new(big.Rat).Quo(wm, rm).IsInt():
		// every multiple of the writer's is one of the reader's
	default:
		msgs = append(msgs, jsonMsg("MULTIPLE_OF_CHANGED", path, "multipleOf changed from %s to %s, which does not divide it", wm.RatString(), rm.RatString()))
	}
	return msgs
}

// items is an array schema as a tuple prefix and the schema of the items after it (nil: any).
func items(s *jsonschema.Schema) (prefix []*jsonschema.Schema, rest *jsonschema.Schema, restKeyword string) {
	if s.DraftVersion >= 2020 || len(s.PrefixItems) > 0 || s.Items2020 != nil {
		return s.PrefixItems, s.Items2020, "items"
	}
	switch it := s.Items.(type) {
	case *jsonschema.Schema:
		return nil, it, "items"
	case []*jsonschema.Schema:
		return it, boolOrSchema(s.AdditionalItems), "additionalItems"
	}
	return nil, nil, "items"
}

func (c *jsonChecker) arrays(r, w *jsonschema.Schema, path string) []string {
	var msgs []string
	rp, rrest, rkw := items(r)
	wp, wrest, _ := items(w)
	if rrest == nil {
		rrest = trueSchema
	}
	if wrest == nil {
		wrest = trueSchema
	}
	n := max(len(rp), len(wp))
	for i := 0; i < n; i++ {
		ipath := fmt.Sprintf("%s/items/%d", path, i)
		switch {
		case i < len(rp) && i < len(wp):
			msgs = append(msgs, c.compat(rp[i], wp[i], ipath)...)
		case i < len(wp): // the writer's tuple is longer: the reader's rest must take its item
			switch {
			case rejectsAll(rrest):
				msgs = append(msgs, jsonMsg("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", ipath, "the reader's tuple has no item %d and takes no additional items", i))
			case !c.compatible(rrest, wp[i], ipath):
				msgs = append(msgs, jsonMsg("ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", ipath, "the reader's %s does not accept the writer's item %d", rkw, i))
			}
		default: // the reader's tuple is longer: the writer's rest produced item i
			switch {
			case rejectsAll(wrest) || acceptsAll(rp[i]):
			case acceptsAll(wrest):
				msgs = append(msgs, jsonMsg("ITEM_ADDED_TO_OPEN_CONTENT_MODEL", ipath, "item %d added to a tuple that took any additional items", i))
			case !c.compatible(rp[i], wrest, ipath):
				msgs = append(msgs, jsonMsg("ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", ipath, "item %d does not accept the writer's additional items", i))
			}
		}
	}
	switch rpath := path + "/" + rkw; {
	case acceptsAll(rrest) || rejectsAll(wrest):
	case rejectsAll(rrest):
		msgs = append(msgs, jsonMsg("ADDITIONAL_ITEMS_REMOVED", rpath, "the reader takes no items after %d; the writer did", len(rp)))
	case acceptsAll(wrest):
		if len(rp) == 0 && len(wp) == 0 {
			msgs = append(msgs, jsonMsg("TYPE_NARROWED", rpath, "items restricted; the writer's items were unrestricted"))
		} else {
			msgs = append(msgs, jsonMsg("ADDITIONAL_ITEMS_NARROWED", rpath, "additional items restricted; the writer's were unrestricted"))
		}
	default:
		msgs = append(msgs, c.compat(rrest, wrest, rpath)...)
	}
	msgs = append(msgs, limit(path, "maxItems", "MAX_ITEMS", r.MaxItems, w.MaxItems, -1)...)
	msgs = append(msgs, limit(path, "minItems", "MIN_ITEMS", r.MinItems, w.MinItems, +1)...)
	if r.UniqueItems && !w.UniqueItems {
		msgs = append(msgs, jsonMsg("UNIQUE_ITEMS_ADDED", path, "uniqueItems added"))
	}
	switch {
	case r.Contains == nil:
	case w.Contains == nil:
		msgs = append(msgs, jsonMsg("CONTAINS_ADDED", path, "contains added"))
	default:
		msgs = append(msgs, c.compat(r.Contains, w.Contains, path+"/contains")...)
	}
	return msgs
}

// propertySchema is what an object schema says about a property it does not list: the schemas of the
// patternProperties matching it, else additionalProperties; nil when it says nothing (open).
func propertySchema(s *jsonschema.Schema, name string) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	pp := patterns(s)
	for _, p := range sortedKeys(pp) {
		for re, ps := range s.PatternProperties {
			if re.String() == p && re.MatchString(name) {
				out = append(out, ps)
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	if ap := boolOrSchema(s.AdditionalProperties); ap != nil {
		return []*jsonschema.Schema{ap}
	}
	if s.UnevaluatedProperties != nil {
		return []*jsonschema.Schema{s.UnevaluatedProperties}
	}
	return nil
}

func isOpen(ss []*jsonschema.Schema) bool {
	for _, s := range ss {
		if !acceptsAll(s) {
			return false
		}
	}
	return true
}

func isClosed(ss []*jsonschema.Schema) bool {
	for _, s := range ss {
		if rejectsAll(s) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func (c *jsonChecker) objects(r, w *jsonschema.Schema, path string) []string {
	var msgs []string
	add := func(rule, p, format string, args ...any) { msgs = append(msgs, jsonMsg(rule, p, format, args...)) }
	rreq, wreq := stringSet(r.Required), stringSet(w.Required)
	handled := map[string]bool{}

	for _, name := range sortedKeys(w.Properties) {
		ppath := path + "/properties/" + escapePointer(name)
		wps := w.Properties[name]
		if rps, ok := r.Properties[name]; ok {
			msgs = append(msgs, c.compat(rps, wps, ppath)...)
			continue
		}
		// Removed from the reader's properties: what does its content model say of it?
		switch rs := propertySchema(r, name); {
		case isOpen(rs):
			// PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL: compatible
		case len(rs) == 1 && rejectsAll(rs[0]):
			add("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", ppath, "the reader's closed content model does not accept property %q", name)
		default:
			for _, s := range rs {
				if sub := c.compat(s, wps, ppath); len(sub) > 0 {
					add("PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", ppath, "the reader's patternProperties/additionalProperties do not accept property %q as the writer wrote it", name)
					msgs = append(msgs, sub...)
					break
				}
			}
		}
	}
	for _, name := range sortedKeys(r.Properties) {
		if _, ok := w.Properties[name]; ok {
			continue
		}
		ppath := path + "/properties/" + escapePointer(name)
		rps := r.Properties[name]
		// Added to the reader: what could the writer have written under this name?
		switch ws := propertySchema(w, name); {
		case isClosed(ws):
			if rreq[name] && !wreq[name] {
				handled[name] = true
				if deref(rps).Default != nil {
					break // REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL: compatible
				}
				add("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", ppath, "required property %q added without a default", name)
			}
		case isOpen(ws):
			if !acceptsAll(rps) {
				add("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", ppath, "property %q added to an open content model: the writer may have written it with any value", name)
			}
		default:
			for _, s := range ws {
				if !c.compatible(rps, s, ppath) {
					add("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", ppath, "property %q does not accept what the writer's patternProperties/additionalProperties allowed", name)
					break
				}
			}
		}
	}
	for _, name := range r.Required {
		if wreq[name] || handled[name] {
			continue
		}
		if ps, ok := r.Properties[name]; ok && deref(ps).Default != nil {
			continue // REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED: compatible
		}
		add("REQUIRED_ATTRIBUTE_ADDED", path+"/required", "property %q became required", name)
	}

	// additionalProperties
	rap, wap := boolOrSchema(r.AdditionalProperties), boolOrSchema(w.AdditionalProperties)
	appath := path + "/additionalProperties"
	switch {
	case rap == nil || acceptsAll(rap) || (wap != nil && rejectsAll(wap)):
	case wap == nil || acceptsAll(wap):
		if rejectsAll(rap) {
			add("ADDITIONAL_PROPERTIES_REMOVED", appath, "additionalProperties false: the writer allowed additional properties")
		} else {
			add("ADDITIONAL_PROPERTIES_NARROWED", appath, "additionalProperties restricted: the writer allowed any")
		}
	case rejectsAll(rap):
		add("ADDITIONAL_PROPERTIES_NARROWED", appath, "additionalProperties false: the writer allowed some")
	default:
		msgs = append(msgs, c.compat(rap, wap, appath)...)
	}
	// patternProperties
	rpp, wpp := patterns(r), patterns(w)
	for _, p := range sortedKeys(rpp) {
		ppath := path + "/patternProperties/" + escapePointer(p)
		if ws, ok := wpp[p]; ok {
			msgs = append(msgs, c.compat(rpp[p], ws, ppath)...)
		} else if wap == nil || !rejectsAll(wap) {
			add("ADDITIONAL_PROPERTIES_NARROWED", ppath, "patternProperties %q added: the writer's properties matching it were not restricted so", p)
		}
	}
	for _, p := range sortedKeys(wpp) {
		if _, ok := rpp[p]; ok || rap == nil || acceptsAll(rap) {
			continue
		}
		if !c.compatible(rap, wpp[p], appath) {
			add("ADDITIONAL_PROPERTIES_NARROWED", appath, "the reader's additionalProperties do not accept the writer's patternProperties %q", p)
		}
	}

	// dependencies (draft-07 "dependencies", 2019+ "dependentRequired" / "dependentSchemas")
	rda, rds := dependencies(r)
	wda, wds := dependencies(w)
	for _, k := range sortedKeys(rda) {
		wl, ok := wda[k]
		if !ok {
			add("DEPENDENCY_ARRAY_ADDED", path+"/dependencies/"+escapePointer(k), "dependency of %q on %v added", k, rda[k])
			continue
		}
		ws := stringSet(wl)
		var extra []string
		for _, d := range rda[k] {
			if !ws[d] {
				extra = append(extra, d)
			}
		}
		if len(extra) > 0 {
			add("DEPENDENCY_ARRAY_EXTENDED", path+"/dependencies/"+escapePointer(k), "%q now also depends on %v", k, extra)
		}
	}
	for _, k := range sortedKeys(rds) {
		dpath := path + "/dependencies/" + escapePointer(k)
		if ws, ok := wds[k]; ok {
			msgs = append(msgs, c.compat(rds[k], ws, dpath)...)
		} else {
			add("DEPENDENCY_SCHEMA_ADDED", dpath, "dependency schema for %q added", k)
		}
	}

	msgs = append(msgs, limit(path, "maxProperties", "MAX_PROPERTIES", r.MaxProperties, w.MaxProperties, -1)...)
	msgs = append(msgs, limit(path, "minProperties", "MIN_PROPERTIES", r.MinProperties, w.MinProperties, +1)...)
	switch {
	case r.PropertyNames == nil:
	case w.PropertyNames == nil:
		add("PROPERTY_NAMES_ADDED", path, "propertyNames added")
	default:
		msgs = append(msgs, c.compat(r.PropertyNames, w.PropertyNames, path+"/propertyNames")...)
	}
	return msgs
}

func patterns(s *jsonschema.Schema) map[string]*jsonschema.Schema {
	m := make(map[string]*jsonschema.Schema, len(s.PatternProperties))
	for re, ps := range s.PatternProperties {
		m[re.String()] = ps
	}
	return m
}

func dependencies(s *jsonschema.Schema) (map[string][]string, map[string]*jsonschema.Schema) {
	arrays, schemas := map[string][]string{}, map[string]*jsonschema.Schema{}
	for k, v := range s.Dependencies {
		switch v := v.(type) {
		case []string:
			arrays[k] = v
		case *jsonschema.Schema:
			schemas[k] = v
		}
	}
	for k, v := range s.DependentRequired {
		arrays[k] = v
	}
	for k, v := range s.DependentSchemas {
		schemas[k] = v
	}
	return arrays, schemas
}

func stringSet(ss []string) map[string]bool {
	m := make(map[string]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}
