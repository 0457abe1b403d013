package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// UnsupportedError names a schema keyword the compiler cannot enforce (or a use of it that it
// cannot enforce), with the JSON pointer of the schema that holds it. The server answers 400
// with it: a keyword that constrains values is never silently ignored.
type UnsupportedError struct {
	Keyword string
	Path    string // JSON pointer of the subschema, "" for the root
	Reason  string
}

func (e *UnsupportedError) Error() string {
	where := e.Path
	if where == "" {
		where = "the root"
	}
	msg := fmt.Sprintf("schema keyword %q at %s is not supported", e.Keyword, where)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// jobj is a JSON object that keeps its keys in document order (properties are generated in
// schema order).
type jobj struct {
	keys []string
	m    map[string]any
}

func (o *jobj) get(k string) (any, bool) {
	v, ok := o.m[k]
	return v, ok
}

// canonical writes v as compact JSON, object keys in document order: the bytes the grammar
// generates for an enum or const value.
func canonical(buf *bytes.Buffer, v any) { writeValue(buf, v, false, -1) }

// writeValue writes v as compact JSON. With equal, the text is the same for two values exactly
// when JSON Schema calls them equal: numbers by value (1, 1.0 and 1e0 are one number), object
// members sorted by key; without, it is canonical's. With a limit >= 0 it stops once buf holds
// more than limit bytes and reports false.
func writeValue(buf *bytes.Buffer, v any, equal bool, limit int) bool {
	if limit >= 0 && buf.Len() > limit {
		return false
	}
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case json.Number:
		if equal {
			buf.WriteString(numberKey(string(v)))
		} else {
			buf.WriteString(string(v))
		}
	case string:
		writeJSONString(buf, v)
	case []any:
		buf.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if !writeValue(buf, x, equal, limit) {
				return false
			}
		}
		buf.WriteByte(']')
	case *jobj:
		keys := v.keys
		if equal {
			keys = slices.Sorted(maps.Keys(v.m))
		}
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, k)
			buf.WriteByte(':')
			if !writeValue(buf, v.m[k], equal, limit) {
				return false
			}
		}
		buf.WriteByte('}')
	}
	return limit < 0 || buf.Len() <= limit
}

func writeJSONString(buf *bytes.Buffer, s string) {
	plain := true // nothing to escape: printable ASCII but '"' and '\\'
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7F && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		buf.WriteByte('"')
		buf.WriteString(s)
		buf.WriteByte('"')
		return
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	buf.Truncate(buf.Len() - 1) // Encode's newline
}

func jsonString(s string) string {
	var buf bytes.Buffer
	writeJSONString(&buf, s)
	return buf.String()
}

// document is one schema document, for resolving its "#..." references.
type document struct {
	root any
}

// resolve follows a local JSON pointer reference ("#", "#/$defs/x").
func (d *document) resolve(ref, path string) (any, error) {
	if !strings.HasPrefix(ref, "#") {
		return nil, &UnsupportedError{Keyword: "$ref", Path: path,
			Reason: fmt.Sprintf("only local references (#/...) are supported, got %q", ref)}
	}
	frag, err := url.PathUnescape(ref[1:])
	if err != nil {
		return nil, fmt.Errorf("$ref %q at %s: %w", ref, path, err)
	}
	cur := d.root
	if frag == "" {
		return cur, nil
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, &UnsupportedError{Keyword: "$ref", Path: path,
			Reason: fmt.Sprintf("anchor references are not supported, got %q", ref)}
	}
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case *jobj:
			v, ok := c.m[tok]
			if !ok {
				return nil, fmt.Errorf("$ref %q at %s: no %q in the schema", ref, path, tok)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("$ref %q at %s: bad index %q", ref, path, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("$ref %q at %s: cannot descend into a %T", ref, path, cur)
		}
	}
	return cur, nil
}

// numberKey is a JSON number literal in a form that is the same for equal numbers: sign, the
// significant digits, and the exponent of their last one ("1.50", "15e-1" and "0.015e2" are
// all "15e-1", zero is "0"). It works on the digits, not on their value, so an exponent of a
// billion costs nothing; one too large for an int is left as written.
func numberKey(lit string) string {
	neg := strings.HasPrefix(lit, "-")
	mant, expText, _ := strings.Cut(strings.ToLower(strings.TrimPrefix(lit, "-")), "e")
	ip, fp, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(ip+fp, "0")
	if digits == "" {
		return "0"
	}
	exp := 0
	if expText != "" {
		e, err := strconv.Atoi(expText)
		if err != nil {
			return lit
		}
		exp = e
	}
	exp -= len(fp)
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	sign := ""
	if neg {
		sign = "-"
	}
	return sign + trimmed + "e" + strconv.Itoa(exp)
}
