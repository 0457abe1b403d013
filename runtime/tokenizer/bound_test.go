package tokenizer

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/arborlabs/arbor/internal/testmodels"
)

// TestNormalizerShrink recomputes, over every Unicode character, how much each normalization
// form and Lowercase can shrink a text, and checks that the factors the bound uses are at least
// that. Decomposition works character by character, so its factor is the largest
// |c| / |decompose(c)|. Composition then joins a starter and marks into one character c whose
// canonical decomposition they are; charging every piece p of a decomposition the largest
// share of input bytes a piece can carry (rho(p) bytes per byte of p), the input behind c is at
// most the sum over its pieces of |p|·rho(p), and the factor is the largest such sum over |c|.
func TestNormalizerShrink(t *testing.T) {
	if testing.Short() {
		t.Skip("scans all of Unicode")
	}
	type ratio struct{ n, d int }
	less := func(a, b ratio) bool { return a.n*b.d < b.n*a.d }
	factor := func(decomp norm.Form, compose bool) ratio {
		rho := map[rune]ratio{}
		worst := ratio{1, 1}
		for r := rune(0); r <= unicode.MaxRune; r++ {
			if !utf8.ValidRune(r) {
				continue
			}
			d := decomp.String(string(r))
			x := ratio{utf8.RuneLen(r), len(d)}
			if less(worst, x) {
				worst = x
			}
			for _, p := range d {
				if cur, ok := rho[p]; !ok || less(cur, x) {
					rho[p] = x
				}
			}
		}
		if !compose {
			return worst
		}
		for c := rune(0); c <= unicode.MaxRune; c++ {
			if !utf8.ValidRune(c) {
				continue
			}
			num, den := 0, 1 // the sum of |p|·rho(p), as num/den
			for _, p := range norm.NFD.String(string(c)) {
				rp, ok := rho[p]
				if !ok || less(rp, ratio{1, 1}) {
					rp = ratio{1, 1} // p itself as input
				}
				num, den = num*rp.d+utf8.RuneLen(p)*rp.n*den, den*rp.d
			}
			if x := (ratio{num, den * utf8.RuneLen(c)}); less(worst, x) {
				worst = x
			}
		}
		return worst
	}
	for _, c := range []struct {
		name    string
		form    norm.Form
		decomp  norm.Form
		compose bool
	}{
		{"NFD", norm.NFD, norm.NFD, false},
		{"NFKD", norm.NFKD, norm.NFKD, false},
		{"NFC", norm.NFC, norm.NFD, true},
		{"NFKC", norm.NFKC, norm.NFKD, true},
	} {
		got := factor(c.decomp, c.compose)
		f := normFactors[c.form]
		if less(ratio{f[0], f[1]}, got) {
			t.Errorf("%s shrinks text by up to %d/%d, more than the bound's %d/%d", c.name, got.n, got.d, f[0], f[1])
		}
	}
	lower := ratio{1, 1}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if utf8.ValidRune(r) {
			if x := (ratio{utf8.RuneLen(r), len(strings.ToLower(string(r)))}); less(lower, x) {
				lower = x
			}
		}
	}
	if less(ratio{lowercaseShrink, 1}, lower) {
		t.Errorf("Lowercase shrinks text by up to %d/%d, more than the bound's %d", lower.n, lower.d, lowercaseShrink)
	}
}

// TestNormalizerShrinkSamples checks the ASCII-aware form of the bound, |N(s)| >= A + (|s|-A)/S,
// on random texts drawn from the characters that shrink most, and that the worst cases named
// in bound.go reach their factors (so the factors are not looser than they need be).
func TestNormalizerShrinkSamples(t *testing.T) {
	alphabet := []string{"a", "K", " ", "\n", "e", "\u0301", "\u0308", "\u0344", "\u0345", "\u0342", "\u0314",
		"\u212a", "\u2126", "\u1fbe", "\u03b9", "\u03c9", "\u1100", "\u1161", "\u11a8", "\U0001d400", "\U0001d6da",
		"\uff21", "\u3131", "\u314f", "\ufb01", "\u1e9e", "\u0130", "\xff", "語"}
	forms := []struct {
		name string
		n    normalizer
	}{
		{"NFC", unicodeNorm{norm.NFC}}, {"NFD", unicodeNorm{norm.NFD}}, {"NFKC", unicodeNorm{norm.NFKC}},
		{"NFKD", unicodeNorm{norm.NFKD}}, {"Lowercase", lowercaseNorm{}},
		{"NFKC+Lowercase", seqNorm{unicodeNorm{norm.NFKC}, lowercaseNorm{}}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, f := range forms {
		num, den, asciiKept, ok := normShrink(f.n)
		if !ok || !asciiKept {
			t.Fatalf("%s: no bound", f.name)
		}
		for range 3000 {
			var b strings.Builder
			for range 1 + rng.IntN(12) {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			s := toValidUTF8(b.String())
			out := f.n.normalize(s)
			kept := keptASCII(s)
			if len(out)*num < kept*num+(len(s)-kept)*den {
				t.Fatalf("%s(%q) = %q: %d bytes, fewer than %d + %d·%d/%d", f.name, s, out, len(out), kept,
					len(s)-kept, den, num)
			}
		}
	}
	for _, w := range []struct {
		form   norm.Form
		in     string
		factor float64
	}{
		{norm.NFC, "\u1fbe\u0308\u0301", 3.5},
		{norm.NFD, "\u212a", 3},
		{norm.NFKC, "\U0001d400", 4},
		{norm.NFKD, "\U0001d400", 4},
	} {
		if got := float64(len(w.in)) / float64(len(w.form.String(w.in))); got != w.factor {
			t.Errorf("%q shrinks by %v, want %v", w.in, got, w.factor)
		}
		f := normFactors[w.form]
		if float64(f[0])/float64(f[1]) != w.factor {
			t.Errorf("%q: the bound's factor is %d/%d, its worst case %v", w.in, f[0], f[1], w.factor)
		}
	}
}

// boundTexts are texts at the edges of the bound: runs of the longest tokens (128 spaces are
// one Qwen3 and Llama 3 token; Llama 2's longest token is 16 ▁, and a literal ▁ in the text
// is 3 bytes, which is why a SentencePiece token counts its ▁ as 3 bytes and not as the one
// space it decodes to), characters that normalize shorter, special tokens written in the text,
// invalid UTF-8.
func boundTexts() []string {
	return []string{
		"", "a", " ", strings.Repeat(" ", 8192), strings.Repeat(" ", 8191) + "x", strings.Repeat("a", 5000),
		strings.Repeat("\u2581", 3000), strings.Repeat("\u2581", 16), strings.Repeat("\u212a", 500),
		strings.Repeat("\u1100\u1161\u11a8", 300), strings.Repeat("\u1fbe\u0308\u0301", 300),
		strings.Repeat("e\u0301", 400), strings.Repeat("\U0001d400", 300), strings.Repeat("<|im_start|>", 100),
		strings.Repeat("<s>", 100), strings.Repeat("<|reserved_special_token_200|>", 50), strings.Repeat("\xff", 300),
		strings.Repeat("\xe2\x96", 300), strings.Repeat("\n", 3000), strings.Repeat("\r\n\t ", 700),
		strings.Repeat("=", 4000), strings.Repeat("-", 4000), strings.Repeat("0123456789", 300),
		strings.Repeat("語", 2000), strings.Repeat("👩🏽‍💻", 200),
	}
}

// TestMinTokensReference checks MinTokens <= len(Encode) for the reference tokenizers on the
// corpus and the edge texts, and that the bound is tight where it can be: a run of the
// longest token.
func TestMinTokensReference(t *testing.T) {
	corpus := loadCorpus(t)
	for _, name := range testmodels.Names() {
		t.Run(name, func(t *testing.T) {
			tk := load(t, name)
			v, err := tk.GGUF()
			if err != nil {
				t.Fatal(err)
			}
			fromGGUF, err := FromGGUF(v) // built the other way: as a GGUF file describes it
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range []*Tokenizer{tk, fromGGUF} {
				if tk.MaxTokenBytes() == 0 {
					t.Fatalf("%v has no bound: %+v", tk, tk.bound)
				}
				for _, text := range append(boundTexts(), corpus...) {
					if lo, n := tk.MinTokens(text), len(tk.Encode(text)); lo > n {
						t.Errorf("%v: MinTokens(%q) = %d, but it encodes to %d tokens", tk, truncate(text, 40), lo, n)
					}
				}
			}
		})
	}
	for _, c := range []struct {
		name, text string
		want       int
	}{
		{"qwen3", strings.Repeat(" ", 8192), 64},
		{"llama3", strings.Repeat(" ", 8192), 64},
		{"llama2", strings.Repeat("\u2581", 3000), 188},
	} {
		tk := load(t, c.name)
		if lo, n := tk.MinTokens(c.text), len(tk.Encode(c.text)); lo != c.want || n != c.want {
			t.Errorf("%s: MinTokens %d, Encode %d tokens, want both %d", c.name, lo, n, c.want)
		}
	}
}

// FuzzMinTokens: for any text, the bound is never above the real count.
func FuzzMinTokens(f *testing.F) {
	for _, s := range boundTexts() {
		if len(s) < 200 {
			f.Add(s)
		}
	}
	f.Add("\u212a\u212a e\u0301 \u1100\u1161 <|im_end|> \u2581\u2581 \xff")
	var tks []*Tokenizer
	for _, name := range testmodels.Names() {
		tks = append(tks, load(f, name))
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, tk := range tks {
			if lo, n := tk.MinTokens(text), len(tk.Encode(text)); lo > n {
				t.Fatalf("%v: MinTokens(%q) = %d > %d tokens", tk, text, lo, n)
			}
		}
	})
}

// byteLevelJSON is a tokenizer.json with every byte-level character in its vocabulary (so no
// character is ever unknown), a pre-tokenizer sequence ending in ByteLevel, and the given
// normalizer, extra pre-tokenizer steps, added tokens and merges.
func byteLevelJSON(normalizer, preSteps, added string, merges []string) []byte {
	vocab := map[string]int{}
	for b := range 256 {
		vocab[string(byteToRune[b])] = len(vocab)
	}
	for _, m := range merges {
		a, b, _ := strings.Cut(m, " ")
		vocab[a+b] = len(vocab)
	}
	vj, _ := json.Marshal(vocab)
	mj, _ := json.Marshal(merges)
	steps := `{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}`
	if preSteps != "" {
		steps = preSteps + "," + steps
	}
	if added == "" {
		added = "[]"
	}
	return fmt.Appendf(nil, `{"added_tokens":%s,"normalizer":%s,
		"pre_tokenizer":{"type":"Sequence","pretokenizers":[%s]},
		"model":{"type":"BPE","vocab":%s,"merges":%s},"decoder":{"type":"ByteLevel"}}`,
		added, normalizer, steps, vj, mj)
}

// TestBoundConfigurations: which pipelines get a bound, and how large.
func TestBoundConfigurations(t *testing.T) {
	g := string(byteToRune[' ']) // "Ġ", a space in byte-level form
	longMerges := []string{g + " " + g, g + g + " " + g + g, g + g + g + g + " " + g + g + g + g}
	addedTok := func(content string, lstrip bool) string {
		return fmt.Sprintf(`[{"id":900,"content":%q,"special":true,"lstrip":%v,"rstrip":false,"normalized":false}]`,
			content, lstrip)
	}
	cases := []struct {
		name          string
		data          []byte
		maxTokenBytes int
		text          string
		minTokens     int
	}{
		{"byte-level: the longest token's characters", byteLevelJSON("null", "", "", longMerges), 8,
			strings.Repeat(" ", 80), 10},
		{"a long added token", byteLevelJSON("null", "", addedTok("<|a-very-long-special-token|>", false),
			longMerges), 29,
			strings.Repeat(" ", 80), 3},
		{"NFKC: ASCII counts whole, the rest by 4", byteLevelJSON(`{"type":"NFKC"}`, "", "", longMerges), 32,
			strings.Repeat(" ", 80) + strings.Repeat("\U0001d400", 8), 10 + 1},
		{"Lowercase then NFC multiply",
			byteLevelJSON(`{"type":"Sequence","normalizers":[{"type":"Lowercase"},{"type":"NFC"}]}`, "", "",
				longMerges), 84,
			strings.Repeat("\u212a", 28), 1},
		{"a growing Replace", byteLevelJSON(`{"type":"Replace","pattern":{"String":" "},"content":"__"}`, "",
			"", nil), 1,
			"a b", 3},
		{"a shrinking literal Replace",
			byteLevelJSON(`{"type":"Replace","pattern":{"String":"abcd"},"content":"x"}`, "", "", nil), 4,
			strings.Repeat("abcd", 10), 10},
		{"an isolating Split", byteLevelJSON("null",
			`{"type":"Split","pattern":{"String":"-"},"behavior":"Isolated","invert":false}`, "", nil), 1,
			"a-b", 3},
		{"Strip deletes whitespace", byteLevelJSON(`{"type":"Strip","strip_left":true,"strip_right":true}`,
			"", "", nil), 0, "  ", 0},
		{"a regex Replace", byteLevelJSON(`{"type":"Replace","pattern":{"Regex":" +"},"content":" "}`, "", "",
			nil), 0, "  ", 0},
		{"a Replace with nothing", byteLevelJSON(`{"type":"Replace","pattern":{"String":" "},"content":""}`,
			"", "", nil), 0, "  ", 0},
		{"a removing Split", byteLevelJSON("null",
			`{"type":"Split","pattern":{"String":"-"},"behavior":"Removed","invert":false}`, "", nil), 0, "--", 0},
		{"WhitespaceSplit", byteLevelJSON("null", `{"type":"WhitespaceSplit"}`, "", nil), 0, "  ", 0},
		{"an added token that swallows whitespace", byteLevelJSON("null", "", addedTok("<x>", true), nil), 0,
			"   <x>", 0},
		{"characters dropped without an unknown token", tinyJSON(t, "ab", nil, "null", "null", "null", ""), 0,
			"abc", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk := mustTiny(t, c.data)
			if got := tk.MaxTokenBytes(); got != c.maxTokenBytes {
				t.Errorf("MaxTokenBytes = %d, want %d (%+v)", got, c.maxTokenBytes, tk.bound)
			}
			if got := tk.MinTokens(c.text); got != c.minTokens {
				t.Errorf("MinTokens(%q) = %d, want %d", c.text, got, c.minTokens)
			}
			if lo, n := tk.MinTokens(c.text), len(tk.Encode(c.text)); lo > n {
				t.Errorf("MinTokens %d > %d tokens", lo, n)
			}
		})
	}
	// Unknown characters: one unknown token each is a bound (4 bytes), fused runs are not.
	unk := func(fuse bool) []byte {
		return fmt.Appendf(nil, `{"added_tokens":[],"normalizer":null,"pre_tokenizer":null,
			"model":{"type":"BPE","vocab":{"<unk>":0,"a":1},"merges":[],"unk_token":"<unk>","fuse_unk":%v},
			"decoder":null}`, fuse)
	}
	if tk := mustTiny(t, unk(false)); tk.MaxTokenBytes() != 5 || tk.MinTokens("語語") > len(tk.Encode("語語")) {
		t.Errorf("unfused unknowns: MaxTokenBytes %d", tk.MaxTokenBytes())
	}
	if tk := mustTiny(t, unk(true)); tk.MaxTokenBytes() != 0 {
		t.Errorf("fused unknowns: MaxTokenBytes %d, want 0", tk.MaxTokenBytes())
	}
}
