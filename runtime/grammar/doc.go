package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
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
func canonical(buf *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case json.Number:
		buf.WriteString(string(v))
	case string:
		writeJSONString(buf, v)
	case []any:
		buf.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			canonical(buf, x)
		}
		buf.WriteByte(']')
	case *jobj:
		buf.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, k)
			buf.WriteByte(':')
			canonical(buf, v.m[k])
		}
		buf.WriteByte('}')
	}
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
		return nil, &UnsupportedError{Keyword: "$ref", Path: path, Reason: fmt.Sprintf("only local references (#/...) are supported, got %q", ref)}
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
		return nil, &UnsupportedError{Keyword: "$ref", Path: path, Reason: fmt.Sprintf("anchor references are not supported, got %q", ref)}
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
