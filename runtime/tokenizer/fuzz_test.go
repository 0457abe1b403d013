package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/arborlabs/arbor/internal/testmodels"
)

// FuzzEncode checks, for all three reference tokenizers, that encoding never panics, that every
// id is valid, and that decoding gives the text back (after the tokenizer's own normalization)
// wherever the pipeline is lossless: byte-level BPE always is; Llama 2's ▁ prefix is re-added
// after each added token, so texts with added tokens or a literal ▁ are exempt there.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "hello world", "  x\n\n\ty ", "<|im_start|>user\nhi<|im_end|>", "<s>a</s>",
		"👩🏽‍💻 語 ١٢٣", "it's 1234567 'LL", "e\u0301", "\r\n\r\n", "\xff\xfe invalid", "ſ's"} {
		f.Add(s)
	}
	type entry struct {
		name string
		tk   *Tokenizer
	}
	var tks []entry
	for _, name := range testmodels.Names() {
		tks = append(tks, entry{name, load(f, name)})
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, e := range tks {
			ids := e.tk.Encode(text)
			for _, id := range ids {
				if id < 0 || int(id) >= e.tk.VocabSize() {
					t.Fatalf("%s: id %d out of range", e.name, id)
				}
			}
			if !utf8.ValidString(text) {
				continue
			}
			want := text
			switch e.name {
			case "qwen3":
				want = norm.NFC.String(text)
			case "llama2":
				if strings.Contains(text, "▁") || strings.Contains(text, "<s>") ||
					strings.Contains(text, "</s>") || strings.Contains(text, "<unk>") {
					continue
				}
			}
			if got := e.tk.Decode(ids); got != want {
				t.Fatalf("%s: Decode(Encode(%q)) = %q", e.name, text, got)
			}
		}
	})
}

// FuzzFromBytes feeds malformed tokenizer.json (and the same bytes as tokenizer_config.json):
// it must return an error or a working tokenizer, never panic.
func FuzzFromBytes(f *testing.F) {
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}`), []byte(`{}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},
		"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Prepend","prepend":"▁"}]},
		"pre_tokenizer":{"type":"Sequence","pretokenizers":[
			{"type":"Split","pattern":{"Regex":"\\s+(?!\\S)|\\p{L}+"},"behavior":"Isolated"},
			{"type":"ByteLevel","use_regex":false}]},
		"decoder":{"type":"Sequence","decoders":[{"type":"ByteLevel"},
			{"type":"Strip","content":" ","start":1,"stop":0}]},
		"added_tokens":[{"id":3,"content":"<s>","special":true}]}`), []byte(`{"bos_token":"<s>","chat_template":"x"}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a a"]}}`), []byte(nil))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"<unk>":0,"<0x41>":1},"merges":[],"unk_token":"<unk>",
		"byte_fallback":true},
		"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first"}}`),
		[]byte(`{"eos_token":{"content":"<unk>"}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":2147483647},"merges":[]}}`), []byte(`{}`))
	f.Add([]byte(`{"model":null}`), []byte(`[]`))
	f.Add([]byte(`{"model":{"type":"WordPiece"}}`), []byte(`{}`))
	f.Add([]byte(`{"model":{"vocab":{"a":0},"merges":["a"]}}`), []byte(`{}`))
	f.Add([]byte(`{`), []byte(`{`))
	f.Fuzz(func(t *testing.T, data, config []byte) {
		tk, err := FromBytes(data, config)
		if err != nil {
			if tk != nil {
				t.Fatal("tokenizer and error both returned")
			}
			return
		}
		for _, s := range []string{"", "ab ba", "<s>a b\n", "ü語😀", string(data[:min(len(data), 40)])} {
			ids := tk.Encode(s)
			_ = tk.Decode(ids)
			d := tk.NewDecoder()
			for _, id := range ids {
				d.Next(id)
			}
			d.Flush()
		}
		if v, err := tk.GGUF(); err == nil {
			if _, err := FromGGUF(v); err != nil {
				t.Logf("FromGGUF after GGUF: %v", err) // allowed: e.g. a pre-tokenizer GGUF cannot name
			}
		}
	})
}
