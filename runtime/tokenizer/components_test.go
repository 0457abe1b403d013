package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// tinyJSON builds a small tokenizer.json: a character-level BPE vocabulary over the given
// alphabet plus merges, with the given components spliced in as raw JSON.
func tinyJSON(t testing.TB, alphabet string, merges []string, normalizer, pre, decoder, added string) []byte {
	t.Helper()
	vocab := map[string]int{}
	add := func(s string) {
		if _, ok := vocab[s]; !ok {
			vocab[s] = len(vocab)
		}
	}
	for _, r := range alphabet {
		add(string(r))
	}
	for _, m := range merges {
		a, b, _ := strings.Cut(m, " ")
		add(a + b)
	}
	vj, _ := json.Marshal(vocab)
	mj, _ := json.Marshal(merges)
	if added == "" {
		added = "[]"
	}
	return fmt.Appendf(nil, `{"version":"1.0","added_tokens":%s,"normalizer":%s,"pre_tokenizer":%s,
		"model":{"type":"BPE","vocab":%s,"merges":%s,"unk_token":null},"decoder":%s}`,
		added, normalizer, pre, vj, mj, decoder)
}

func mustTiny(t testing.TB, data []byte) *Tokenizer {
	t.Helper()
	tk, err := FromBytes(data, nil)
	if err != nil {
		t.Fatalf("FromBytes: %v", err)
	}
	return tk
}

// pieces encodes and maps ids back to token strings, for readable assertions.
func pieces(tk *Tokenizer, text string) []string {
	var out []string
	for _, id := range tk.Encode(text) {
		out = append(out, tk.Token(id))
	}
	return out
}

func TestSplitBehaviors(t *testing.T) {
	// With no merges every character is its own token, so the test observes only how the
	// pre-tokenizer grouped characters: pieces are visible as the BPE runs within each piece.
	cases := map[string][]string{
		"Isolated":           {"ab", "-", "c", "-", "-", "d"},
		"Removed":            {"ab", "c", "d"},
		"MergedWithPrevious": {"ab-", "c-", "-", "d"},
		"MergedWithNext":     {"ab", "-c", "-", "-d"},
		"Contiguous":         {"ab", "-", "c", "--", "d"},
	}
	for beh, want := range cases {
		// Merges for every possible piece make each piece come out as a single token.
		merges := []string{"a b", "- c", "c -", "- d", "ab -", "- -"}
		pre := fmt.Sprintf(`{"type":"Split","pattern":{"String":"-"},"behavior":%q,"invert":false}`, beh)
		tk := mustTiny(t, tinyJSON(t, "abcd-", merges, "null", pre, "null", ""))
		if got := pieces(tk, "ab-c--d"); !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", beh, got, want)
		}
	}
}

func TestAddedTokenFlags(t *testing.T) {
	added := `[
		{"id":100,"content":"<x>","single_word":false,"lstrip":true,"rstrip":false,"normalized":false,"special":true},
		{"id":101,"content":"<y>","single_word":false,"lstrip":false,"rstrip":true,"normalized":false,"special":false},
		{"id":102,"content":"w","single_word":true,"lstrip":false,"rstrip":false,"normalized":false,"special":false},
		{"id":103,"content":"<x>>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,
		 "special":true}]`
	tk := mustTiny(t, tinyJSON(t, "ab w<>xy", nil, "null", "null", "null", added))
	for text, want := range map[string][]string{
		"a  <x>b":   {"a", "<x>", "b"},         // lstrip eats the spaces before
		"a<y>  b":   {"a", "<y>", "b"},         // rstrip eats the spaces after
		"a w b":     {"a", " ", "w", " ", "b"}, // single word: matched
		"awb":       {"a", "w", "b"},           // inside a word: plain characters
		"<x>>":      {"<x>>"},                  // longest match wins
		"<x><y><x>": {"<x>", "<y>", "<x>"},     // adjacent added tokens
		"a <x":      {"a", " ", "<", "x"},      // incomplete: plain text
	} {
		got := pieces(tk, text)
		if !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", text, got, want)
		}
	}
	if !tk.IsSpecial(100) || tk.IsSpecial(101) {
		t.Errorf("IsSpecial wrong")
	}
	if id, ok := tk.ID("w"); !ok || id != 102 {
		t.Errorf("ID(w) = %d %v", id, ok)
	}
}

func TestNormalizersAndPreTokenizers(t *testing.T) {
	// Lowercase + NFKC + Replace, then Metaspace: "Ａb c" -> "▁ab▁c" split into ▁-words.
	norm := `{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"},
		{"type":"Replace","pattern":{"Regex":"c+"},"content":"c"}]}`
	pre := `{"type":"Sequence","pretokenizers":[
		{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true},
		{"type":"Digits","individual_digits":true}]}`
	dec := `{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`
	merges := []string{"▁ a", "▁a b", "▁ c"}
	tk := mustTiny(t, tinyJSON(t, "▁abc12", merges, norm, pre, dec, ""))
	if got, want := pieces(tk, "Ａb ccc12"), []string{"▁ab", "▁c", "1", "2"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := tk.Decode(tk.Encode("ab c")); got != "ab c" {
		t.Errorf("Metaspace decode: %q", got)
	}
}

func TestByteFallbackAndUnk(t *testing.T) {
	vocab := map[string]int{"<unk>": 0, "a": 1}
	for b := 0; b < 256; b++ {
		vocab[fmt.Sprintf("<0x%02X>", b)] = 2 + b
	}
	vj, _ := json.Marshal(vocab)
	mk := func(fallback, fuse bool) *Tokenizer {
		return mustTiny(t, fmt.Appendf(nil, `{"model":{"type":"BPE","vocab":%s,"merges":[],"unk_token":"<unk>",
			"byte_fallback":%v,"fuse_unk":%v},
			"decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Fuse"}]}}`,
			vj, fallback, fuse))
	}
	tk := mk(true, false)
	if got, want := pieces(tk, "aé"), []string{"a", "<0xC3>", "<0xA9>"}; !slices.Equal(got, want) {
		t.Errorf("byte fallback: %q", got)
	}
	if got := tk.Decode(tk.Encode("aé")); got != "aé" {
		t.Errorf("decode %q", got)
	}
	if got, want := pieces(mk(false, true), "aéé"), []string{"a", "<unk>"}; !slices.Equal(got, want) {
		t.Errorf("fuse_unk: %q", got)
	}
	if got, want := pieces(mk(false, false), "éé"), []string{"<unk>", "<unk>"}; !slices.Equal(got, want) {
		t.Errorf("unk: %q", got)
	}
}

func TestBPEMergeOrder(t *testing.T) {
	// Rank decides, not position; equal ranks go leftmost first. "aaa" with "a a" must give
	// "aa a", and the long-piece (heap) path must agree with the short one.
	merges := []string{"b c", "a a", "a bc", "aa a"}
	tk := mustTiny(t, tinyJSON(t, "abc", merges, "null", "null", "null", ""))
	for text, want := range map[string][]string{
		"abc":  {"abc"},
		"aabc": {"aa", "bc"}, // "b c" (rank 0), then "a a" (1) before "a bc" (2) can apply
		"aaa":  {"aaa"},      // leftmost "a a", then "aa a"
		"aaaa": {"aa", "aa"}, // "a a" leftmost, then "a a" (1) beats "aa a" (3)
	} {
		if got := pieces(tk, text); !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", text, got, want)
		}
	}
	long := strings.Repeat("aabc", 40)
	short := pieces(tk, "aabc")
	var want []string
	for range 40 {
		want = append(want, short...)
	}
	// Without a pre-tokenizer the whole string is one piece of 160 symbols: the heap path.
	if got := pieces(tk, long); !slices.Equal(got, want) {
		t.Errorf("heap path differs: %q", got[:8])
	}
}

func TestUnknownComponentErrors(t *testing.T) {
	for name, c := range map[string]struct{ norm, pre, dec, want string }{
		"normalizer": {`{"type":"BertNormalizer"}`, "null", "null", `unsupported normalizer type "BertNormalizer"`},
		"pre_tokenizer": {"null", `{"type":"Sequence","pretokenizers":[{"type":"Punctuation"}]}`, "null",
			`unsupported pre-tokenizer type "Punctuation"`},
		"decoder": {"null", "null", `{"type":"WordPiece"}`, `unsupported decoder type "WordPiece"`},
		"behavior": {"null", `{"type":"Split","pattern":{"String":"x"},"behavior":"Sideways"}`, "null",
			`unsupported split behavior "Sideways"`},
		"regex": {"null", `{"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"}`,
			"null", `compile regex`},
	} {
		_, err := FromBytes(tinyJSON(t, "ab", nil, c.norm, c.pre, c.dec, ""), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %s", name, err, c.want)
		}
	}
	_, err := FromBytes([]byte(`{"model":{"type":"Unigram","vocab":[]}}`), nil)
	if err == nil || !strings.Contains(err.Error(), `"Unigram"`) {
		t.Errorf("Unigram model: err = %v", err)
	}
}

func TestConfig(t *testing.T) {
	data := tinyJSON(t, "ab", nil, "null", "null", "null",
		`[{"id":10,"content":"<s>","special":true},{"id":11,"content":"</s>","special":true},`+
			`{"id":12,"content":"<|eot_id|>","special":true}]`)
	cfg := []byte(`{"bos_token":{"content":"<s>","__type":"AddedToken"},"eos_token":"</s>","add_bos_token":false,
		"chat_template":[{"name":"tool_use","template":"T"},{"name":"default","template":"D"}]}`)
	tk, err := FromBytes(data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tk.BOS() != 10 || tk.BOSToken() != "<s>" || tk.AddBOS() || tk.EOSToken() != "</s>" || tk.ChatTemplate() != "D" {
		t.Errorf("BOS %d %q add %v EOS %q template %q", tk.BOS(), tk.BOSToken(), tk.AddBOS(), tk.EOSToken(),
			tk.ChatTemplate())
	}
	if got := tk.EOS(); !slices.Equal(got, []int32{11, 12}) {
		t.Errorf("EOS() = %v, want [11 12] (</s> first, then <|eot_id|>)", got)
	}
	if tk.VocabSize() != 13 || tk.Token(5) != "" {
		t.Errorf("VocabSize %d, gap token %q", tk.VocabSize(), tk.Token(5))
	}
	v, err := tk.GGUF()
	if err == nil {
		t.Errorf("character-level BPE without byte level or ▁ should not convert to GGUF, got %s", v.Model)
	}
}

func TestNormalizedAddedToken(t *testing.T) {
	added := `[{"id":50,"content":"HELLO","normalized":true,"special":false},
		{"id":51,"content":"<S>","normalized":false,"special":true}]`
	tk := mustTiny(t, tinyJSON(t, "helo<s>", nil, `{"type":"Lowercase"}`, "null", "null", added))
	// A normalized added token matches the normalized text ("HeLLo" -> "hello" == lower("HELLO"));
	// a non-normalized one only the raw text, so "<s>" stays plain characters.
	if got := tk.Encode("hHeLLo<S><s>"); !slices.Equal(got[1:3], []int32{50, 51}) || len(got) != 6 {
		t.Errorf("got %v (%q)", got, pieces(tk, "hHeLLo<S><s>"))
	}
}

func TestFromFileGenerationConfig(t *testing.T) {
	dir := t.TempDir()
	data := tinyJSON(t, "ab", nil, "null", "null", "null",
		`[{"id":10,"content":"<|im_end|>","special":true},{"id":11,"content":"<|x|>","special":true}]`)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tokenizer.json", string(data))
	write("tokenizer_config.json", `{"eos_token":"<|im_end|>","chat_template":"{{ messages }}"}`)
	write("generation_config.json", `{"eos_token_id":[10, 11]}`)
	tk, err := FromFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.EOS(); !slices.Equal(got, []int32{10, 11}) {
		t.Errorf("EOS() = %v, want [10 11]", got)
	}
	if tk.ChatTemplate() != "{{ messages }}" || tk.AddBOS() || tk.BOS() != -1 {
		t.Errorf("template %q AddBOS %v BOS %d", tk.ChatTemplate(), tk.AddBOS(), tk.BOS())
	}
	write("generation_config.json", `{"eos_token_id":"x"}`)
	if _, err := FromFile(filepath.Join(dir, "tokenizer.json")); err == nil ||
		!strings.Contains(err.Error(), "generation_config") {
		t.Errorf("bad generation_config: err = %v", err)
	}
	if _, err := FromFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestConcurrentEncode(t *testing.T) {
	tk := load(t, "qwen3")
	golden := loadGolden(t, "qwen3")
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := range golden {
				e := golden[(i+g*37)%len(golden)]
				if !slices.Equal(tk.Encode(e.Text), e.IDs) {
					errs <- e.Text
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Errorf("concurrent encode differs on %q", truncate(s, 40))
	}
}

func TestMetaspaceSplit(t *testing.T) {
	pre := `{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`
	merges := []string{"▁ a", "▁ b", "▁ c"}
	tk := mustTiny(t, tinyJSON(t, "▁abc", merges, "null", pre, "null", ""))
	if got, want := pieces(tk, "a b  c"), []string{"▁a", "▁b", "▁", "▁c"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	pre = `{"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":true}`
	tk = mustTiny(t, tinyJSON(t, "▁abc", merges, "null", pre, "null", ""))
	if got, want := pieces(tk, "a b"), []string{"a", "▁b"}; !slices.Equal(got, want) {
		t.Errorf("never: got %q, want %q", got, want)
	}
}
