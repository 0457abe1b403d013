package tokenizer

import (
	"bytes"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/internal/testmodels"
)

func TestTokenBytesConcatenatesToDecode(t *testing.T) {
	texts := []string{
		"Hello, world! The quick brown fox jumps over the lazy dog.",
		`{"name": "Ada", "age": 36, "tags": ["x", "y"]}`,
		"Grüße aus Köln — naïve café, 東京タワー, emoji 🎉🙂 and\ttabs\nnewlines  spaces",
		"def f(x):\n    return x ** 2  # square\n",
	}
	for _, name := range testmodels.Names() {
		t.Run(name, func(t *testing.T) {
			tok, err := FromFile(testmodels.TokenizerJSON(t, name))
			if err != nil {
				t.Fatal(err)
			}
			for _, text := range texts {
				ids := tok.Encode(text)
				var got []byte
				for _, id := range ids {
					b := tok.TokenBytes(id)
					if b == nil {
						t.Fatalf("%q: token %d (%q) has no bytes", text, id, tok.Token(id))
					}
					got = append(got, b...)
				}
				want := tok.Decode(ids)
				// A SentencePiece decoder drops the prefix space of a whole text.
				if g := string(got); g != want && strings.TrimPrefix(g, " ") != want {
					t.Errorf("%q:\n got %q\nwant %q", text, g, want)
				}
			}
			for _, id := range tok.EOS() {
				if tok.IsSpecial(id) && tok.TokenBytes(id) != nil {
					t.Errorf("special EOS token %d has bytes %q", id, tok.TokenBytes(id))
				}
			}
			if tok.TokenBytes(-1) != nil || tok.TokenBytes(int32(tok.VocabSize())) != nil {
				t.Error("out-of-range ids must have no bytes")
			}
		})
	}
}

func TestTokenBytesRawBytes(t *testing.T) {
	tok, err := FromFile(testmodels.TokenizerJSON(t, "qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	// A character split over byte-level tokens: each token's bytes are raw, not UTF-8.
	var all []byte
	for _, id := range tok.Encode("🎉") {
		all = append(all, tok.TokenBytes(id)...)
	}
	if !bytes.Equal(all, []byte("🎉")) {
		t.Fatalf("got % x", all)
	}
}
