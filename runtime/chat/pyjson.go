package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Templates see JSON objects as gonja's ordered *exec.Dict, so that
// iteration, .items() and tojson follow insertion order the way Python dicts
// do, rather than Go's (sorted) map order.

type dictBuilder struct {
	d *exec.Dict
}

func newDict() dictBuilder { return dictBuilder{d: exec.NewDict()} }

// set appends key, or replaces its value in place when it is already there
// (Python's d[key] = value, and json.loads' last-one-wins for duplicates).
func (b dictBuilder) set(key string, v any) {
	for _, p := range b.d.Pairs {
		if p.Key.IsString() && p.Key.String() == key {
			p.Value = exec.ToValue(v)
			return
		}
	}
	b.d.Pairs = append(b.d.Pairs, &exec.Pair{Key: exec.AsValue(key), Value: exec.ToValue(v)})
}

// pyList is a template list with Python's indexing. gonja's own lookup
// rejects x[-n] on a list of n items, so "abc".split("<think>")[-1] (Qwen3's
// template does that to assistant content) would come out undefined.
type pyList []any

// GetItem implements exec.ItemGetter.
func (l pyList) GetItem(key any) (*exec.Value, bool) {
	i, ok := key.(int)
	if !ok {
		return exec.AsValue(nil), false
	}
	if i < 0 {
		i += len(l)
	}
	if i < 0 || i >= len(l) {
		return exec.AsValue(nil), false
	}
	return exec.ToValue(l[i]), true
}

// decodeJSON decodes JSON text the way Python's json.loads does: objects keep
// their key order (as *exec.Dict), integers stay integers and numbers with a
// fraction or exponent become floats. Integers beyond int64 become floats
// (Python would keep them exact). Strings, keys included, pass through rw.
func decodeJSON(b []byte, rw *rewriter) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeJSONValue(dec, rw)
	if err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode JSON: unexpected data after the value")
	}
	return v, nil
}

func decodeJSONValue(dec *json.Decoder, rw *rewriter) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := newDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				v, err := decodeJSONValue(dec, rw)
				if err != nil {
					return nil, err
				}
				d.set(rw.str(key), v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return d.d, nil
		case '[':
			list := pyList{}
			for dec.More() {
				v, err := decodeJSONValue(dec, rw)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return list, nil
		}
		return nil, fmt.Errorf("unexpected delimiter %v", t)
	case json.Number:
		return jsonNumber(t), nil
	case string:
		return rw.str(t), nil
	default: // bool, nil
		return t, nil
	}
}

func jsonNumber(n json.Number) any {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(i)
		}
	}
	f, _ := strconv.ParseFloat(s, 64) // out of range gives ±Inf, like Python
	return f
}

// templateValue converts a caller-supplied Extra value for the template, its strings (keys
// included) passed through rw.
func templateValue(v any, rw *rewriter) (any, error) {
	switch x := v.(type) {
	case string:
		return rw.str(x), nil
	case json.RawMessage:
		return decodeJSON(x, rw)
	case json.Number:
		return jsonNumber(x), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := newDict()
		for _, k := range keys {
			cv, err := templateValue(x[k], rw)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			d.set(rw.str(k), cv)
		}
		return d.d, nil
	case []any:
		out := make(pyList, len(x))
		for i, e := range x {
			cv, err := templateValue(e, rw)
			if err != nil {
				return nil, fmt.Errorf("index %d: %w", i, err)
			}
			out[i] = cv
		}
		return out, nil
	default:
		return v, nil
	}
}

// dumpOptions are the json.dumps arguments HF's tojson filter passes through.
type dumpOptions struct {
	indent   *string // nil: single line
	itemSep  string
	keySep   string
	sortKeys bool
	ascii    bool
}

// pyDumps is Python's json.dumps(v, ensure_ascii, indent, separators,
// sort_keys) over template values: HF's tojson filter. Defaults: ", " and
// ": " separators (",", ": " once indent is set), insertion-ordered keys, no
// ASCII escaping.
func pyDumps(v *exec.Value, o dumpOptions) (string, error) {
	var b strings.Builder
	if err := o.write(&b, v, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

const maxJSONDepth = 512

func (o *dumpOptions) newline(b *strings.Builder, depth int) {
	if o.indent == nil {
		return
	}
	b.WriteByte('\n')
	for range depth {
		b.WriteString(*o.indent)
	}
}

func (o *dumpOptions) write(b *strings.Builder, v *exec.Value, depth int) error {
	if depth > maxJSONDepth {
		return errors.New("tojson: value nested too deeply (circular reference?)")
	}
	if v == nil || v.IsNil() {
		b.WriteString("null")
		return nil
	}
	if v.IsError() {
		return fmt.Errorf("tojson: %s", v.Error())
	}
	switch {
	case v.IsBool():
		if v.Bool() {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case v.IsInteger():
		b.WriteString(v.String())
	case v.IsFloat():
		b.WriteString(pyFloatJSON(v.Float()))
	case v.IsString():
		writePyString(b, v.String(), o.ascii)
	case v.IsList():
		n := v.Len()
		if n == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			o.newline(b, depth+1)
			if err := o.write(b, v.Index(i), depth+1); err != nil {
				return err
			}
		}
		o.newline(b, depth)
		b.WriteByte(']')
	case v.IsDict():
		keys, vals := dictEntries(v)
		if len(keys) == 0 {
			b.WriteString("{}")
			return nil
		}
		skeys := make([]string, len(keys))
		for i, k := range keys {
			s, err := jsonKey(k)
			if err != nil {
				return err
			}
			skeys[i] = s
		}
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		if o.sortKeys {
			sort.SliceStable(order, func(a, c int) bool { return skeys[order[a]] < skeys[order[c]] })
		}
		b.WriteByte('{')
		for n, i := range order {
			if n > 0 {
				b.WriteString(o.itemSep)
			}
			o.newline(b, depth+1)
			writePyString(b, skeys[i], o.ascii)
			b.WriteString(o.keySep)
			if err := o.write(b, vals[i], depth+1); err != nil {
				return err
			}
		}
		o.newline(b, depth)
		b.WriteByte('}')
	default:
		return fmt.Errorf("tojson: object of type %T is not JSON serializable", v.Interface())
	}
	return nil
}

// dictEntries lists a mapping's entries: insertion order for gonja's ordered
// Dict, sorted keys for Go maps (which have no order).
func dictEntries(v *exec.Value) ([]*exec.Value, []*exec.Value) {
	var keys, vals []*exec.Value
	switch d := v.Interface().(type) {
	case *exec.Dict:
		for _, p := range d.Pairs {
			keys, vals = append(keys, p.Key), append(vals, p.Value)
		}
		return keys, vals
	case exec.Dict:
		for _, p := range d.Pairs {
			keys, vals = append(keys, p.Key), append(vals, p.Value)
		}
		return keys, vals
	}
	rv := reflect.Indirect(v.Val)
	if rv.Kind() != reflect.Map {
		return nil, nil
	}
	mk := rv.MapKeys()
	sort.Slice(mk, func(i, j int) bool { return fmt.Sprint(mk[i].Interface()) < fmt.Sprint(mk[j].Interface()) })
	for _, k := range mk {
		keys = append(keys, exec.ToValue(k))
		vals = append(vals, exec.ToValue(rv.MapIndex(k)))
	}
	return keys, vals
}

// jsonKey converts a mapping key the way json.dumps does.
func jsonKey(k *exec.Value) (string, error) {
	switch {
	case k.IsNil():
		return "null", nil
	case k.IsString():
		return k.String(), nil
	case k.IsBool():
		if k.Bool() {
			return "true", nil
		}
		return "false", nil
	case k.IsInteger():
		return k.String(), nil
	case k.IsFloat():
		return pyFloatJSON(k.Float()), nil
	}
	return "", fmt.Errorf("tojson: keys must be str, int, float, bool or None, not %T", k.Interface())
}

// pyFloatJSON is Python's float repr as json.dumps writes it.
func pyFloatJSON(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return pyFloatRepr(f)
}

// pyFloatRepr is Python's repr(float): the shortest round-tripping digits,
// positional for exponents -4..15 (always with a fraction, "1.0"), else
// scientific with a signed, at least two-digit exponent ("1e+16", "1e-05").
func pyFloatRepr(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(sci[strings.IndexByte(sci, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return sci
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// writePyString quotes s like json.dumps: \" \\ \n \r \t \b \f, other
// control characters as \u00XX, and with ensure_ascii everything outside
// printable ASCII as \uXXXX (UTF-16 surrogate pairs above U+FFFF).
func writePyString(b *strings.Builder, s string, ascii bool) {
	const hex = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20:
				u4(r)
			case ascii && r > 0x7e:
				if r > 0xffff {
					r -= 0x10000
					u4(0xd800 + (r>>10)&0x3ff)
					u4(0xdc00 + r&0x3ff)
				} else {
					u4(r)
				}
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}
