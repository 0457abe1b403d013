package tree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNesting bounds the depth of the documents reencode takes: a grammar's stack has room for
// a few thousand levels in all, and no tool result or schema needs more than a few dozen.
const maxNesting = 512

// reencode writes one JSON document compactly, object members in document order (a map would
// lose the order, and the grammar writes members in schema order). Each string value is passed
// to str with the key of the member holding it ("" in arrays and at the top), each number to
// num; they append their encoding to the buffer.
func reencode(data []byte, str func(buf *bytes.Buffer, key, s string),
	num func(buf *bytes.Buffer, n json.Number)) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var buf bytes.Buffer
	type level struct {
		obj bool
		n   int    // tokens written at this level (objects: keys and values)
		key string // objects: the current member's key
	}
	var stack []level
	top := 0 // top-level values begun
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return nil, err
		}
		// Separators, and whether tok is an object key.
		isKey, key := false, ""
		if len(stack) > 0 {
			l := &stack[len(stack)-1]
			closing := tok == json.Delim('}') || tok == json.Delim(']')
			switch {
			case closing:
			case l.obj && l.n%2 == 0:
				isKey = true
				if l.n > 0 {
					buf.WriteByte(',')
				}
			case l.obj:
				buf.WriteByte(':')
				key = l.key
			case l.n > 0:
				buf.WriteByte(',')
			}
			if !closing {
				l.n++
			}
		} else if top++; top > 1 {
			return nil, errors.New("more than one JSON value")
		}
		switch t := tok.(type) {
		case json.Delim:
			buf.WriteByte(byte(t))
			switch t {
			case '{', '[':
				if len(stack) >= maxNesting {
					return nil, fmt.Errorf("nested deeper than %d levels", maxNesting)
				}
				stack = append(stack, level{obj: t == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if isKey {
				stack[len(stack)-1].key = t
				writeString(&buf, t)
			} else {
				str(&buf, key, t)
			}
		case json.Number:
			num(&buf, t)
		case bool:
			fmt.Fprint(&buf, t)
		case nil:
			buf.WriteString("null")
		}
	}
	if buf.Len() == 0 {
		return nil, errors.New("no JSON value")
	}
	return buf.Bytes(), nil
}

// writeString writes s as a JSON string the grammar accepts: UTF-8 as is (invalid UTF-8 as
// U+FFFD), '"' and '\\' escaped, control characters as \n \r \t \b \f or \u00XX, and no \u escapes of
// surrogates. One more rule keeps the text the same after the tokenizer's Unicode
// normalization: a combining mark right after an escape is escaped too (\u0301), since NFC
// would compose it with the escape's last letter ("\n" and U+0301 would become "\ń", an escape
// the grammar refuses); marks outside the Basic Multilingual Plane compose with no ASCII letter.
func writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	escaped := false // the last character written was an escape sequence
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		was := escaped
		escaped = true
		switch {
		case r == '"':
			buf.WriteString(`\"`)
		case r == '\\':
			buf.WriteString(`\\`)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r == '\b':
			buf.WriteString(`\b`)
		case r == '\f':
			buf.WriteString(`\f`)
		case r < 0x20, was && r <= 0xFFFF && unicode.Is(unicode.M, r):
			fmt.Fprintf(buf, `\u%04x`, r)
		default:
			escaped = false
			buf.WriteRune(r) // utf8.RuneError for invalid bytes: U+FFFD
		}
	}
	buf.WriteByte('"')
}

// canonicalJSON rewrites a JSON document into the form the grammar lets through as forced
// tokens (runtime/grammar writes and accepts a subset of JSON): compact, strings as writeString
// does, and numbers in plain decimal notation with at most 15 integer and 15 fraction digits
// and a magnitude of at most 999999999999999. An exponent is expanded exactly (1.5e3 is 1500); a
// number that still does not fit becomes a string of its literal ("1e300"), so that nothing the
// tool said is lost or rounded.
func canonicalJSON(data []byte) ([]byte, error) {
	return reencode(data, func(buf *bytes.Buffer, _ string, s string) { writeString(buf, s) },
		func(buf *bytes.Buffer, n json.Number) {
			if p, ok := plainDecimal(string(n)); ok {
				buf.WriteString(p)
				return
			}
			writeString(buf, string(n))
		})
}

const (
	maxIntDigits  = 15
	maxFracDigits = 15
)

// plainDecimal writes a JSON number literal in the grammar's notation, if it fits.
func plainDecimal(lit string) (string, bool) {
	mant, exp, hasExp := lit, 0, false
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		e, ok := parseExp(lit[i+1:])
		if !ok {
			return "", false
		}
		mant, exp, hasExp = lit[:i], e, true
	}
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	ip, fp, _ := strings.Cut(mant, ".")
	if hasExp {
		// Move the point: digits = ip+fp with the point after len(ip)+exp of them.
		digits := ip + fp
		point := len(ip) + exp
		switch {
		case point <= 0:
			ip, fp = "0", strings.Repeat("0", -point)+digits
		case point >= len(digits):
			ip, fp = digits+strings.Repeat("0", point-len(digits)), ""
		default:
			ip, fp = digits[:point], digits[point:]
		}
		ip = strings.TrimLeft(ip, "0")
		if ip == "" {
			ip = "0"
		}
		fp = strings.TrimRight(fp, "0")
	}
	if len(ip) > maxIntDigits || len(fp) > maxFracDigits {
		return "", false
	}
	if len(ip) == maxIntDigits && fp != "" && strings.Trim(ip, "9") == "" {
		return "", false // above the largest magnitude the grammar writes
	}
	s := ip
	if fp != "" {
		s += "." + fp
	}
	if neg {
		s = "-" + s
	}
	return s, true
}

// parseExp reads an exponent ("+5", "-12", "3"), bounded so that expanding it stays cheap.
func parseExp(s string) (int, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "" {
		return 0, false
	}
	e := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if e = e*10 + int(c-'0'); e > 400 {
			return 0, false // far outside what fits in 15+15 digits
		}
	}
	if neg {
		e = -e
	}
	return e, true
}

// rebaseRefs rewrites the local "$ref" values of a schema that is embedded at pointer base of
// another document: "#" becomes base, "#/x" becomes base+"/x". Schemas without "$ref" are
// returned as they are.
func rebaseRefs(schema []byte, base string) ([]byte, error) {
	if !bytes.Contains(schema, []byte(`"$ref"`)) {
		return schema, nil
	}
	return reencode(schema, func(buf *bytes.Buffer, key, s string) {
		if key == "$ref" && strings.HasPrefix(s, "#") {
			s = base + s[1:]
		}
		writeString(buf, s)
	}, func(buf *bytes.Buffer, n json.Number) { buf.WriteString(string(n)) })
}
