package grammar

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseDoc: the schema parser accepts exactly what encoding/json accepts, and reads the
// same values.
func FuzzParseDoc(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,-2.5e3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"],"b":{}}`,
		`{"a":1,"a":2}`, ` [ ] `, `"\ud800"`, "\"\xff\"", `01`, `1.`, `-`, `1e`, `[1,]`, `{"a"}`,
		`{"a":1,}`, `nul`, `"a` + "\x01" + `"`, `[1] x`, `{"enum":["a","b"]}`, `0.0e-0`, `-0`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseDoc(data)
		if (err == nil) != json.Valid(data) {
			t.Fatalf("%q: parseDoc error %v, json.Valid %v", data, err, json.Valid(data))
		}
		if err != nil {
			return
		}
		var buf bytes.Buffer
		canonical(&buf, v)
		var want, got any
		for _, x := range []struct {
			b   []byte
			dst *any
		}{{data, &want}, {buf.Bytes(), &got}} {
			dec := json.NewDecoder(bytes.NewReader(x.b))
			dec.UseNumber()
			if err := dec.Decode(x.dst); err != nil {
				t.Fatalf("%q: %v", x.b, err)
			}
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%q read as %q", data, buf.Bytes())
		}
	})
}

func TestParseDocDepth(t *testing.T) {
	deep := strings.Repeat("[", maxDocDepth+2) + strings.Repeat("]", maxDocDepth+2)
	if _, err := parseDoc([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("got %v", err)
	}
}

func TestNumberKey(t *testing.T) {
	same := [][]string{
		{"1", "1.0", "1e0", "10e-1", "0.1e1", "1.000E+0"},
		{"-15e-1", "-1.5", "-0.015e2"},
		{"0", "-0", "0.0", "0e999999999999999999999"},
		{"1e1000000000", "10e999999999"},
	}
	for _, group := range same {
		for _, lit := range group {
			if numberKey(lit) != numberKey(group[0]) {
				t.Errorf("%s: %s, want %s (as %s)", lit, numberKey(lit), numberKey(group[0]), group[0])
			}
		}
	}
	for _, pair := range [][2]string{{"1", "-1"}, {"1", "10"}, {"1.5", "15"}, {"0.1", "1"}} {
		if numberKey(pair[0]) == numberKey(pair[1]) {
			t.Errorf("%s and %s read as equal", pair[0], pair[1])
		}
	}
}
