package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Alternative is one branch of CompileChoice: the output is Prefix, then a JSON value matching
// Schema, then Suffix. A nil Schema means any JSON object.
type Alternative struct {
	Prefix string
	Schema []byte
	Suffix string
}

// CompileSchema compiles a JSON Schema (draft 2020-12 / OpenAI structured outputs) into a
// grammar whose completed outputs are compact JSON documents valid against it.
//
// Supported: type (a name or a list: null, boolean, integer, number, string, array, object),
// enum and const (any JSON values; combined only with type); objects:
// properties (written in schema order; required ones always, optional ones present or absent),
// required (also names outside properties, with any value), additionalProperties (extra
// members are never generated when properties are declared; without properties it gives the
// value schema of a free-keyed map); arrays: items, prefixItems, minItems, maxItems; strings:
// minLength, maxLength (in code points), pattern (anchored; literals, escapes \d \w \s \D \W
// \S \. etc., classes and negated classes, '.', groups, '|', ?, *, +, {m}, {m,}, {m,n}),
// format (date, time, date-time, uuid, ipv4); integers and numbers: minimum, maximum,
// exclusiveMinimum, exclusiveMaximum (see the notes on numbers); anyOf; oneOf (when its
// branches cannot both match a generated value); allOf with one schema; $ref to local JSON
// pointers ("#", "#/$defs/x", "#/definitions/x"), recursion included; $defs/definitions.
// Annotations (title, description, examples, default, $schema, $id, $comment, deprecated,
// readOnly, writeOnly) are ignored. Anything else is an *UnsupportedError.
func CompileSchema(schema []byte) (*Grammar, error) {
	return CompileChoice([]Alternative{{Schema: schema}})
}

// JSONObject is the grammar of response_format json_object: any JSON object.
func JSONObject() *Grammar {
	g, err := CompileChoice([]Alternative{{}})
	if err != nil {
		panic(err) // no schema: cannot fail
	}
	return g
}

// JSONValue is the grammar of any JSON value.
func JSONValue() *Grammar {
	g, err := CompileSchema([]byte(`true`))
	if err != nil {
		panic(err)
	}
	return g
}

// CompileChoice compiles one or more alternatives into one grammar (a forced tool call: for each
// tool, its name and its parameters' schema, in the model's call format).
func CompileChoice(alts []Alternative) (*Grammar, error) {
	if len(alts) == 0 {
		return nil, errors.New("grammar: no alternatives")
	}
	b := newBuilder()
	roots := make([]int32, len(alts))
	start, err := b.rule(func(start int32) (int32, error) {
		end := b.newNode()
		for i, a := range alts {
			after := b.lit(start, a.Prefix)
			roots[i] = after
			var v int32
			if a.Schema == nil {
				v = b.call(after, b.anyObject())
			} else {
				doc, err := parseDoc(a.Schema)
				if err != nil {
					return -1, fmt.Errorf("schema %d is not valid JSON: %w", i, err)
				}
				b.doc = &document{root: doc}
				b.hasRefs = hasKey(doc, "$ref")
				b.refs = map[string]int32{}
				b.shared = map[string]int32{}
				v, err = b.value(after, doc, "")
				if err != nil {
					return -1, err
				}
			}
			b.eps(b.lit(v, a.Suffix), end)
		}
		return end, nil
	})
	if err != nil {
		return nil, err
	}
	if err := b.checkSize(""); err != nil {
		return nil, err
	}
	if err := b.finish(start, roots); err != nil {
		return nil, err
	}
	return b.grammar(start), nil
}

// hasKey reports whether an object anywhere in v has the key k.
func hasKey(v any, k string) bool {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			if hasKey(x, k) {
				return true
			}
		}
	case *jobj:
		if _, ok := v.m[k]; ok {
			return true
		}
		for _, x := range v.m {
			if hasKey(x, k) {
				return true
			}
		}
	}
	return false
}

// annotations are keywords that do not constrain values.
var annotations = map[string]bool{
	"title": true, "description": true, "examples": true, "default": true, "$schema": true,
	"$id": true, "$comment": true, "deprecated": true, "readOnly": true, "writeOnly": true,
	"$defs": true, "definitions": true, "example": true, "discriminator": true,
	"nullable": true, // OpenAPI's; JSON Schema treats it as an annotation, and so do we
}

var typeKeywords = map[string]string{
	"properties": "object", "required": "object", "additionalProperties": "object",
	"items": "array", "prefixItems": "array", "minItems": "array", "maxItems": "array",
	"minLength": "string", "maxLength": "string", "pattern": "string", "format": "string",
	"minimum": "number", "maximum": "number", "exclusiveMinimum": "number", "exclusiveMaximum": "number",
}

var allTypes = []string{"object", "array", "string", "number", "integer", "boolean", "null"}

// value compiles schema s from node from and returns the node after the value.
func (b *builder) value(from int32, s any, path string) (int32, error) {
	if err := b.checkSize(path); err != nil {
		return -1, err
	}
	switch s := s.(type) {
	case bool:
		if !s {
			return -1, &UnsupportedError{Keyword: "false", Path: path, Reason: "the schema admits no value"}
		}
		return b.call(from, b.anyValue()), nil
	case *jobj:
		return b.object(from, s, path)
	}
	return -1, fmt.Errorf("schema at %s must be an object or a boolean, got %T", orRoot(path), s)
}

func orRoot(p string) string {
	if p == "" {
		return "the root"
	}
	return p
}

func (b *builder) object(from int32, s *jobj, path string) (int32, error) {
	if _, ok := s.m["$id"]; ok && path != "" && b.hasRefs {
		return -1, &UnsupportedError{Keyword: "$id", Path: path,
			Reason: "an $id below the root changes where the $ref values under it point"}
	}
	var constraining []string
	for _, k := range s.keys {
		if annotations[k] {
			continue
		}
		switch k {
		case "type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref":
		default:
			if _, ok := typeKeywords[k]; !ok {
				if k == "multipleOf" || k == "uniqueItems" || k == "minProperties" || k == "maxProperties" {
					if k == "uniqueItems" && s.m[k] == false {
						continue
					}
					return -1, &UnsupportedError{Keyword: k, Path: path}
				}
				return -1, &UnsupportedError{Keyword: k, Path: path}
			}
		}
		constraining = append(constraining, k)
	}
	// Combinators and references stand alone (beside annotations).
	for _, k := range []string{"$ref", "anyOf", "oneOf", "allOf"} {
		if _, ok := s.m[k]; !ok {
			continue
		}
		if len(constraining) > 1 {
			other := constraining[0]
			if other == k {
				other = constraining[1]
			}
			return -1, &UnsupportedError{Keyword: other, Path: path,
				Reason: fmt.Sprintf("only annotations may stand beside %q", k)}
		}
		switch k {
		case "$ref":
			return b.ref(from, s.m[k], path)
		case "allOf":
			list, ok := s.m[k].([]any)
			if !ok || len(list) != 1 {
				return -1, &UnsupportedError{Keyword: k, Path: path,
					Reason: "only allOf with a single schema is supported"}
			}
			return b.value(from, list[0], path+"/allOf/0")
		default:
			return b.union(from, s.m[k], path, k)
		}
	}
	types, err := typeSet(s, path)
	if err != nil {
		return -1, err
	}
	if _, ok := s.m["enum"]; ok {
		return b.enum(from, s, types, path)
	}
	if _, ok := s.m["const"]; ok {
		return b.enum(from, s, types, path)
	}
	end := b.newNode()
	any := false
	if types["null"] {
		b.eps(b.lit(from, "null"), end)
		any = true
	}
	if types["boolean"] {
		b.eps(b.lit(from, "true"), end)
		b.eps(b.lit(from, "false"), end)
		any = true
	}
	if types["number"] || types["integer"] {
		integer := !types["number"]
		bnd := func(k string) (*float64, error) {
			v, ok := s.m[k]
			if !ok {
				return nil, nil
			}
			n, ok := v.(json.Number)
			if !ok {
				return nil, fmt.Errorf("%s/%s must be a number", path, k)
			}
			f, err := n.Float64()
			if err != nil || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s/%s: %v", path, k, n)
			}
			return &f, nil
		}
		var fs [4]*float64
		for i, k := range []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
			if fs[i], err = bnd(k); err != nil {
				return -1, err
			}
		}
		lo, loX, hi, hiX := numericBounds(integer, fs[0], fs[1], fs[2], fs[3])
		n, ok := b.numberRange(from, integer, lo, loX, hi, hiX)
		if !ok {
			return -1, &UnsupportedError{Keyword: "minimum", Path: path,
				Reason: "no value in plain decimal notation with integer-rounded bounds fits these bounds"}
		}
		b.eps(n, end)
		any = true
	}
	if types["string"] {
		n, err := b.stringValue(from, s, path)
		if err != nil {
			return -1, err
		}
		b.eps(n, end)
		any = true
	}
	if types["array"] {
		n, err := b.array(from, s, path)
		if err != nil {
			return -1, err
		}
		b.eps(n, end)
		any = true
	}
	if types["object"] {
		n, err := b.objectValue(from, s, path)
		if err != nil {
			return -1, err
		}
		b.eps(n, end)
		any = true
	}
	if !any {
		return -1, &UnsupportedError{Keyword: "type", Path: path, Reason: "no type admits a value"}
	}
	return end, nil
}

// typeSet is the set of JSON types s allows: its type (and nullable), or when it names none,
// the types its keywords apply to (a schema with properties describes an object), or all.
func typeSet(s *jobj, path string) (map[string]bool, error) {
	set := map[string]bool{}
	if t, ok := s.m["type"]; ok {
		switch t := t.(type) {
		case string:
			set[t] = true
		case []any:
			for _, x := range t {
				name, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("%s/type must hold strings", path)
				}
				set[name] = true
			}
		default:
			return nil, fmt.Errorf("%s/type must be a string or an array of strings", path)
		}
		for name := range set {
			known := false
			for _, a := range allTypes {
				known = known || a == name
			}
			if !known {
				return nil, fmt.Errorf("%s/type: unknown type %q", path, name)
			}
		}
	} else {
		for _, k := range s.keys {
			if t, ok := typeKeywords[k]; ok {
				set[t] = true
			}
		}
		if len(set) == 0 {
			for _, a := range allTypes {
				set[a] = true
			}
		}
	}
	return set, nil
}

func (b *builder) ref(from int32, r any, path string) (int32, error) {
	ref, ok := r.(string)
	if !ok {
		return -1, fmt.Errorf("%s/$ref must be a string", path)
	}
	if start, ok := b.refs[ref]; ok {
		return b.call(from, start), nil
	}
	target, err := b.doc.resolve(ref, path)
	if err != nil {
		return -1, err
	}
	start, err := b.rule(func(start int32) (int32, error) {
		b.refs[ref] = start
		return b.value(start, target, strings.TrimPrefix(ref, "#"))
	})
	if err != nil {
		return -1, err
	}
	return b.call(from, start), nil
}

// subRule compiles a subschema as a rule (once per call site), for values repeated many times
// (array items, map values): each repetition is then one call node, not a copy.
// Identical small subschemas (a prefixItems list of 50,000 {"type":"integer"}) share one rule.
func (b *builder) subRule(s any, path string) (int32, error) {
	var buf bytes.Buffer
	key := ""
	if writeValue(&buf, s, false, maxSharedSchemaBytes) {
		key = buf.String()
		if r, ok := b.shared[key]; ok {
			return r, nil
		}
	}
	r, err := b.rule(func(start int32) (int32, error) { return b.value(start, s, path) })
	if err == nil && key != "" {
		b.shared[key] = r
	}
	return r, err
}

// maxSharedSchemaBytes bounds the subschemas subRule shares by their text: larger ones are
// rare enough to build again, and their text would cost more to compare.
const maxSharedSchemaBytes = 4096

func (b *builder) union(from int32, list any, path, kw string) (int32, error) {
	alts, ok := list.([]any)
	if !ok || len(alts) == 0 {
		return -1, fmt.Errorf("%s/%s must be a non-empty array", path, kw)
	}
	if kw == "oneOf" {
		if err := b.disjoint(alts, path); err != nil {
			return -1, err
		}
	}
	end := b.newNode()
	for i, a := range alts {
		entry := b.newNode()
		b.eps(from, entry)
		n, err := b.value(entry, a, fmt.Sprintf("%s/%s/%d", path, kw, i))
		if err != nil {
			return -1, err
		}
		b.eps(n, end)
	}
	return end, nil
}

// disjoint checks that no generated value can match two branches of a oneOf: the branches'
// type sets are disjoint (integer counting as number), or two object branches are told apart
// by a required property that one has and the other forbids (additionalProperties false), or
// by a required property whose const/enum values differ.
func (b *builder) disjoint(alts []any, path string) error {
	deref := func(a any) any {
		for range 16 {
			o, ok := a.(*jobj)
			if !ok {
				return a
			}
			r, ok := o.m["$ref"].(string)
			if !ok {
				return a
			}
			t, err := b.doc.resolve(r, path)
			if err != nil {
				return a
			}
			a = t
		}
		return a
	}
	for i := range alts {
		for j := i + 1; j < len(alts); j++ {
			x, y := deref(alts[i]), deref(alts[j])
			if distinct(x, y) {
				continue
			}
			return &UnsupportedError{Keyword: "oneOf", Path: path,
				Reason: fmt.Sprintf("branches %d and %d may both match one value; use anyOf", i, j)}
		}
	}
	return nil
}

func distinct(x, y any) bool {
	xo, ok1 := x.(*jobj)
	yo, ok2 := y.(*jobj)
	if !ok1 || !ok2 {
		return false
	}
	tx, err1 := typeSet(xo, "")
	ty, err2 := typeSet(yo, "")
	if err1 != nil || err2 != nil {
		return false
	}
	norm := func(t map[string]bool) map[string]bool {
		if t["integer"] {
			t["number"] = true
		}
		return t
	}
	tx, ty = norm(tx), norm(ty)
	overlap := false
	for k := range tx {
		if ty[k] {
			overlap = true
		}
	}
	if !overlap {
		return true
	}
	if _, hasEnum := xo.m["enum"]; hasEnum {
		if _, hasEnum2 := yo.m["enum"]; hasEnum2 {
			return disjointValues(enumValues(xo), enumValues(yo))
		}
	}
	for k := range tx {
		if k != "object" && ty[k] {
			return false
		}
	}
	// Both may only be objects here.
	return objectsDistinct(xo, yo) || objectsDistinct(yo, xo)
}

func enumValues(o *jobj) []any {
	if c, ok := o.m["const"]; ok {
		return []any{c}
	}
	l, _ := o.m["enum"].([]any)
	return l
}

func disjointValues(a, c []any) bool {
	seen := map[string]bool{}
	var buf bytes.Buffer
	for _, v := range a {
		buf.Reset()
		writeValue(&buf, v, true, -1)
		seen[buf.String()] = true
	}
	for _, v := range c {
		buf.Reset()
		writeValue(&buf, v, true, -1)
		if seen[buf.String()] {
			return false
		}
	}
	return true
}

// objectsDistinct: x requires a property that y forbids or whose values y's schema for it
// cannot share.
func objectsDistinct(x, y *jobj) bool {
	req, _ := x.m["required"].([]any)
	xp, _ := x.m["properties"].(*jobj)
	yp, _ := y.m["properties"].(*jobj)
	yreq := map[string]bool{}
	if l, ok := y.m["required"].([]any); ok {
		for _, r := range l {
			if s, ok := r.(string); ok {
				yreq[s] = true
			}
		}
	}
	for _, r := range req {
		name, _ := r.(string)
		var ys any
		inY := false
		if yp != nil {
			ys, inY = yp.m[name]
		}
		if !inY && y.m["additionalProperties"] == false {
			return true
		}
		if inY && yreq[name] && xp != nil {
			xs, _ := xp.m[name].(*jobj)
			yo, _ := ys.(*jobj)
			if xs != nil && yo != nil && hasValues(xs) && hasValues(yo) &&
				disjointValues(enumValues(xs), enumValues(yo)) {
				return true
			}
		}
	}
	return false
}

func hasValues(o *jobj) bool {
	_, e := o.m["enum"]
	_, c := o.m["const"]
	return e || c
}

// enum generates one of the literal values of enum/const that fit the type set.
func (b *builder) enum(from int32, s *jobj, types map[string]bool, path string) (int32, error) {
	for _, k := range s.keys {
		if annotations[k] || k == "enum" || k == "const" || k == "type" {
			continue
		}
		return -1, &UnsupportedError{Keyword: k, Path: path, Reason: "only type may stand beside enum or const"}
	}
	if e, ok := s.m["enum"]; ok {
		if _, isList := e.([]any); !isList {
			return -1, fmt.Errorf("%s/enum must be an array, got %T", path, e)
		}
	}
	vals := enumValues(s)
	if c, ok := s.m["const"]; ok {
		if e, ok := s.m["enum"]; ok {
			// Both: the const, if the enum has it.
			if !disjointValues([]any{c}, e.([]any)) {
				vals = []any{c}
			} else {
				vals = nil
			}
		}
	}
	// The values share one trie of their bytes: whatever the enum's size, the automaton stays
	// deterministic (one configuration), so a mask costs what one value's would. The trie's
	// size is counted from the sorted values before any node is built, so an enum too large
	// for the budget is refused at the cost of sorting its text.
	var texts []string
	var buf bytes.Buffer
	for _, v := range vals {
		if !typeFits(v, types) {
			continue
		}
		buf.Reset()
		canonical(&buf, v)
		texts = append(texts, buf.String())
	}
	if len(texts) == 0 {
		return -1, &UnsupportedError{Keyword: "enum", Path: path, Reason: "no value fits the schema"}
	}
	slices.Sort(texts)
	texts = slices.Compact(texts)
	need := 0
	for i, t := range texts {
		need += len(t)
		if i > 0 {
			need -= commonPrefix(t, texts[i-1])
		}
	}
	if len(b.nodes)+need+2 > MaxNodes {
		return -1, &SizeError{Path: path}
	}
	b.nodes = slices.Grow(b.nodes, need+2)
	root, end := b.newNode(), b.newNode()
	b.eps(from, root)
	var trail []int32 // trail[d]: the node after the current value's first d+1 bytes
	for i, t := range texts {
		common := 0
		if i > 0 {
			common = commonPrefix(t, texts[i-1])
		}
		trail = trail[:common]
		for d := common; d < len(t); d++ {
			parent := root
			if d > 0 {
				parent = trail[d-1]
			}
			next := b.newNode()
			b.edge(parent, t[d], t[d], next)
			trail = append(trail, next)
		}
		b.eps(trail[len(t)-1], end)
	}
	return end, nil
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func typeFits(v any, types map[string]bool) bool {
	switch v := v.(type) {
	case nil:
		return types["null"]
	case bool:
		return types["boolean"]
	case string:
		return types["string"]
	case []any:
		return types["array"]
	case *jobj:
		return types["object"]
	case json.Number:
		if types["number"] {
			return true
		}
		f, err := v.Float64()
		return types["integer"] && err == nil && f == math.Trunc(f)
	}
	return false
}

func intKeyword(s *jobj, k, path string) (int, bool, error) {
	v, ok := s.m[k]
	if !ok {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false, fmt.Errorf("%s/%s must be a non-negative integer", path, k)
	}
	i, err := n.Int64()
	if err != nil || i < 0 {
		return 0, false, fmt.Errorf("%s/%s must be a non-negative integer, got %s", path, k, n)
	}
	if i > 1<<20 {
		return 0, false, &UnsupportedError{Keyword: k, Path: path,
			Reason: fmt.Sprintf("%d is above the limit of %d", i, 1<<20)}
	}
	return int(i), true, nil
}

func (b *builder) stringValue(from int32, s *jobj, path string) (int32, error) {
	minL, _, err := intKeyword(s, "minLength", path)
	if err != nil {
		return -1, err
	}
	maxL, hasMax, err := intKeyword(s, "maxLength", path)
	if err != nil {
		return -1, err
	}
	if !hasMax {
		maxL = -1
	} else if maxL < minL {
		return -1, &UnsupportedError{Keyword: "maxLength", Path: path, Reason: "maxLength is below minLength"}
	}
	pat, hasPat := s.m["pattern"]
	f, hasFmt := s.m["format"]
	if hasPat || hasFmt {
		if _, ok := s.m["minLength"]; ok {
			return -1, &UnsupportedError{Keyword: "minLength", Path: path,
				Reason: "not together with pattern or format"}
		}
		if hasMax {
			return -1, &UnsupportedError{Keyword: "maxLength", Path: path,
				Reason: "not together with pattern or format"}
		}
		if hasPat && hasFmt {
			return -1, &UnsupportedError{Keyword: "format", Path: path, Reason: "not together with pattern"}
		}
		var expr string
		kw := "pattern"
		if hasPat {
			p, ok := pat.(string)
			if !ok {
				return -1, fmt.Errorf("%s/pattern must be a string", path)
			}
			expr = p
		} else {
			kw = "format"
			name, _ := f.(string)
			p, ok := formats[name]
			if !ok {
				return -1, &UnsupportedError{Keyword: "format", Path: path,
					Reason: fmt.Sprintf("format %q is not supported (supported: date, time, date-time, uuid, ipv4)",
						name)}
			}
			expr = p
		}
		re, err := parseRegex(expr)
		if err != nil {
			return -1, &UnsupportedError{Keyword: kw, Path: path, Reason: err.Error()}
		}
		open := b.lit(from, `"`)
		return b.regexDFA(open, re, kw, path)
	}
	return b.freeString(from, minL, maxL), nil
}

var formats = map[string]string{
	"date": `[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])`,
	"time": `([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])`,
	"date-time": `[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T` +
		`([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])`,
	"uuid": `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`,
	"ipv4": `(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}`,
}

func (b *builder) array(from int32, s *jobj, path string) (int32, error) {
	minI, _, err := intKeyword(s, "minItems", path)
	if err != nil {
		return -1, err
	}
	maxI, hasMax, err := intKeyword(s, "maxItems", path)
	if err != nil {
		return -1, err
	}
	if !hasMax {
		maxI = -1
	} else if maxI < minI {
		return -1, &UnsupportedError{Keyword: "maxItems", Path: path, Reason: "maxItems is below minItems"}
	}
	var prefix []any
	if p, ok := s.m["prefixItems"]; ok {
		if prefix, ok = p.([]any); !ok {
			return -1, fmt.Errorf("%s/prefixItems must be an array", path)
		}
	}
	var items any = true
	if it, ok := s.m["items"]; ok {
		items = it
	}
	if items == false {
		if maxI < 0 || maxI > len(prefix) {
			maxI = len(prefix)
		}
		if minI > maxI {
			return -1, &UnsupportedError{Keyword: "minItems", Path: path,
				Reason: "more items are required than items allows"}
		}
	}
	rules := map[int]int32{} // per schema index (-1: items)
	itemRule := func(i int) (int32, error) {
		key, sch, p := -1, items, path+"/items"
		if i < len(prefix) {
			key, sch, p = i, prefix[i], fmt.Sprintf("%s/prefixItems/%d", path, i)
		}
		if r, ok := rules[key]; ok {
			return r, nil
		}
		r, err := b.subRule(sch, p)
		if err != nil {
			return -1, err
		}
		rules[key] = r
		return r, nil
	}
	open := b.lit(from, "[")
	end := b.newNode()
	cur := open
	for i := 0; ; i++ {
		if i >= minI {
			b.edge(cur, ']', ']', end)
		}
		if maxI >= 0 && i == maxI {
			break
		}
		r, err := itemRule(i)
		if err != nil {
			return -1, err
		}
		if maxI < 0 && i >= 1 && i >= minI && i >= len(prefix) {
			// Loop: cur was made by this loop, so edges back into it are safe.
			v := b.call(b.lit(cur, ","), r)
			b.eps(v, cur)
			break
		}
		sep := cur
		if i > 0 {
			sep = b.lit(cur, ",")
		}
		next := b.newNode()
		b.eps(b.call(sep, r), next)
		cur = next
		if err := b.checkSize(path); err != nil {
			return -1, err
		}
	}
	return end, nil
}

func (b *builder) objectValue(from int32, s *jobj, path string) (int32, error) {
	props, _ := s.m["properties"].(*jobj)
	if p, ok := s.m["properties"]; ok && props == nil {
		return -1, fmt.Errorf("%s/properties must be an object, got %T", path, p)
	}
	required := map[string]bool{}
	var extra []string
	if r, ok := s.m["required"]; ok {
		list, ok := r.([]any)
		if !ok {
			return -1, fmt.Errorf("%s/required must be an array of strings", path)
		}
		for _, x := range list {
			name, ok := x.(string)
			if !ok {
				return -1, fmt.Errorf("%s/required must be an array of strings", path)
			}
			if !required[name] && (props == nil || props.m[name] == nil) {
				extra = append(extra, name)
			}
			required[name] = true
		}
	}
	ap, hasAP := s.m["additionalProperties"]
	if props == nil && len(extra) == 0 {
		// A map: free keys, values of the additionalProperties schema (any when absent).
		if hasAP && ap == false {
			return b.lit(b.lit(from, "{"), "}"), nil
		}
		var vs any = true
		if hasAP {
			vs = ap
		}
		r, err := b.subRule(vs, path+"/additionalProperties")
		if err != nil {
			return -1, err
		}
		return b.objectBody(from, func(n int32) (int32, error) { return b.call(n, r), nil }), nil
	}
	type prop struct {
		name   string
		schema any
		path   string
	}
	var list []prop
	if props != nil {
		for _, k := range props.keys {
			list = append(list, prop{k, props.m[k], path + "/properties/" + escapePointer(k)})
		}
	}
	for _, k := range extra {
		if hasAP && ap == false {
			return -1, fmt.Errorf("%s: property %q is required, but additionalProperties false forbids it: %w",
				orRoot(path), k, ErrNoValue)
		}
		var sch any = true
		if hasAP && ap != true {
			sch = ap
		}
		list = append(list, prop{k, sch, path + "/required"})
	}
	open := b.lit(from, "{")
	first, rest := open, int32(-1) // before the next property: nothing written yet / something written
	for _, p := range list {
		req := required[p.name]
		if p.schema == false {
			if req {
				return -1, &UnsupportedError{Keyword: "required", Path: path,
					Reason: fmt.Sprintf("property %q is required but its schema is false", p.name)}
			}
			continue
		}
		key := jsonString(p.name) + ":"
		join := b.newNode()
		if first >= 0 {
			b.eps(b.lit(first, key), join)
		}
		if rest >= 0 {
			b.eps(b.lit(rest, ","+key), join)
		}
		v, err := b.value(join, p.schema, p.path)
		if err != nil {
			return -1, err
		}
		newRest := b.newNode()
		b.eps(v, newRest)
		if rest >= 0 && !req {
			b.eps(rest, newRest)
		}
		if req {
			first = -1
		}
		rest = newRest
	}
	end := b.newNode()
	if first >= 0 {
		b.edge(first, '}', '}', end)
	}
	if rest >= 0 {
		b.edge(rest, '}', '}', end)
	}
	return end, nil
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
