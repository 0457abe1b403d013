package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arborlabs/arbor/internal/testmodels"
)

// streamAll feeds ids one by one and checks the streaming contract: each Next returns valid
// UTF-8 and the concatenation with Flush equals Decode.
func streamAll(t *testing.T, tk *Tokenizer, ids []int32) []string {
	t.Helper()
	d := tk.NewDecoder()
	var parts []string
	for _, id := range ids {
		s := d.Next(id)
		if !utf8.ValidString(s) {
			t.Fatalf("Next returned invalid UTF-8 %q", s)
		}
		parts = append(parts, s)
	}
	parts = append(parts, d.Flush())
	if got, want := strings.Join(parts, ""), tk.Decode(ids); got != want {
		t.Fatalf("stream %q != Decode %q", got, want)
	}
	return parts
}

func TestStreamingDecoderCorpus(t *testing.T) {
	corpus := loadCorpus(t)
	for _, name := range testmodels.Names() {
		t.Run(name, func(t *testing.T) {
			tk := load(t, name)
			for _, s := range corpus {
				streamAll(t, tk, tk.Encode(s))
			}
		})
	}
}

// TestStreamingSplitCharacters checks that a character spread over several byte tokens is held
// back until complete and then emitted whole.
func TestStreamingSplitCharacters(t *testing.T) {
	for _, name := range testmodels.Names() {
		t.Run(name, func(t *testing.T) {
			tk := load(t, name)
			text := "a👩🏽‍💻b 🇺🇸 語"
			ids := tk.Encode(text)
			parts := streamAll(t, tk, ids)
			split := false
			for i, p := range parts[:len(parts)-1] {
				// A held-back step returns "" and the next non-empty one completes a character.
				if p == "" && i+1 < len(ids) {
					split = true
				}
			}
			if !split {
				t.Errorf("expected at least one character split over tokens in %v", tokensOf(tk, ids))
			}
			if got := strings.Join(parts, ""); got != text {
				t.Errorf("stream gave %q, want %q", got, text)
			}
		})
	}
}

// TestStreamingByteTokens drives the decoder with raw byte tokens directly: an emoji's four
// bytes as four ids, then a truncated character at the end that Flush must report as U+FFFD.
func TestStreamingByteTokens(t *testing.T) {
	for _, name := range testmodels.Names() {
		t.Run(name, func(t *testing.T) {
			tk := load(t, name)
			byteID := func(b byte) int32 {
				var tok string
				if name == "llama2" {
					tok = string([]byte{'<', '0', 'x', "0123456789ABCDEF"[b>>4], "0123456789ABCDEF"[b&15], '>'})
				} else {
					tok = string(byteToRune[b])
				}
				id, ok := tk.ID(tok)
				if !ok {
					t.Fatalf("no token for byte %#x", b)
				}
				return id
			}
			var ids []int32
			for _, b := range []byte("😀") {
				ids = append(ids, byteID(b))
			}
			d := tk.NewDecoder()
			for i, id := range ids {
				got := d.Next(id)
				if i < 3 && got != "" {
					t.Fatalf("byte %d of 4: got %q before the character is complete", i, got)
				}
				if i == 3 && strings.TrimPrefix(got, " ") != "😀" {
					t.Fatalf("last byte: got %q, want the emoji", got)
				}
			}
			if f := d.Flush(); f != "" {
				t.Fatalf("Flush after complete text = %q", f)
			}
			// Truncated: two bytes of a three-byte character.
			ids = []int32{byteID('x'), byteID(0xE8), byteID(0xAA)}
			d = tk.NewDecoder()
			var out string
			for _, id := range ids {
				out += d.Next(id)
			}
			if out != "x" {
				t.Fatalf("Next outputs %q, want just x", out)
			}
			if f := d.Flush(); f != "\uFFFD" {
				t.Fatalf("Flush = %q, want U+FFFD", f)
			}
			if dec := tk.Decode(ids); dec != "x\uFFFD" {
				t.Fatalf("Decode = %q", dec)
			}
		})
	}
}

// TestLlama2LeadingSpace: Llama 2's decoder strips the space of the first token only, and the
// streaming decoder must do the same however the ids arrive.
func TestLlama2LeadingSpace(t *testing.T) {
	tk := load(t, "llama2")
	ids := tk.Encode("Hello world")
	if got := tk.Decode(ids); got != "Hello world" {
		t.Fatalf("Decode = %q", got)
	}
	parts := streamAll(t, tk, ids)
	if parts[0] != "Hello" || parts[1] != " world" {
		t.Errorf("stream parts %q", parts)
	}
	// A lone space token first: its space is the one that gets stripped.
	sp, _ := tk.ID("▁")
	ids = append([]int32{sp}, ids...)
	if got, want := strings.Join(streamAll(t, tk, ids), ""), " Hello world"; got != want {
		t.Errorf("stream %q, want %q", got, want)
	}
}

func TestToValidUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"abc":                "abc",
		"a\xffb":             "a\uFFFDb",
		"\xe2\x82":           "\uFFFD", // one maximal subpart
		"\xe2\x82A":          "\uFFFDA",
		"\xf0\x9f\x98":       "\uFFFD",
		"\xed\xa0\x80":       "\uFFFD\uFFFD\uFFFD", // surrogates are invalid byte by byte
		"\x80\x80":           "\uFFFD\uFFFD",
		"ok\xf0\x9f\x98\x80": "ok😀",
	} {
		if got := toValidUTF8(in); got != want {
			t.Errorf("toValidUTF8(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]int{"a": 0, "a\xe2": 1, "a\xe2\x82": 2, "\xf0\x9f\x98": 3,
		"\xe2\x82\xac": 0, "\xff": 0, "\xe2A": 0} {
		if got := incompleteTail(in); got != want {
			t.Errorf("incompleteTail(%q) = %d, want %d", in, got, want)
		}
	}
}
