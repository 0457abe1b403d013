package bpetrain

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/dlclark/regexp2"

	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

var testSpecials = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
	"<tool_response>", "</tool_response>"}

var testKeys = []string{`"reasoning":`, `"thought":`, `"tooluse":`, `"tool_name":`, `"parameters":`,
	`"tool_result":`, `"subtasks":`, `"conclusion":`, `"answer":`, `"expression":`}

// testTemplate is a small ChatML template with Hermes-style tool calls.
const testTemplate = `{%- for message in messages %}` +
	`{%- if message.role == "tool" %}{{ '<|im_start|>user\n<tool_response>\n' + message.content + '\n</tool_response><|im_end|>\n' }}` +
	`{%- else %}{{ '<|im_start|>' + message.role + '\n' }}{%- if message.content %}{{ message.content }}{%- endif %}` +
	`{%- if message.tool_calls %}{%- for tc in message.tool_calls %}` +
	`{{ '<tool_call>\n{"name": "' + tc.function.name + '", "arguments": ' + tc.function.arguments + '}\n</tool_call>' }}` +
	`{%- endfor %}{%- endif %}{{ '<|im_end|>\n' }}{%- endif %}{%- endfor %}` +
	`{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{%- endif %}`

var (
	names   = []string{"Alice", "Bob", "Carmen", "Dmitri", "Eun-ji", "Farid", "Grace", "Hiroshi", "Ines", "José"}
	things  = []string{"apples", "marbles", "books", "coins", "stickers", "pencils", "cookies", "tickets"}
	verbs   = []string{"buys", "gives away", "finds", "sells", "loses", "collects"}
	opNames = []string{"add", "subtract", "multiply", "divide"}
	opSyms  = []string{"+", "-", "*", "/"}
)

var (
	common = strings.Fields(`the of and to in is was that for on with as by at from his her they we you
		this which be or are had not but have one all were there when an their what so up out if about who
		them then she would into more some time could these two may first water been call people other
		number way find long down day did get come made over part many over new sound take only little work
		know place year live me back give most very after thing our just name good sentence man think say
		great where help through much before line right too mean old any same tell boy follow came want show
		also around form three small set put end does another well large must big even such because turn
		here why ask went men read need land different home us move try kind hand picture again change off
		play spell air away animal house point page letter mother answer found study still learn should
		world high every near add food between own below country plant last school father keep tree never
		start city earth eye light thought head under story saw left few while along might close something
		seem next hard open example begin life always those both paper together got group often run
		important until children side feet car mile night walk white sea began grow took river four carry
		state once book hear stop without second later miss idea enough eat face watch far really almost
		let above girl sometimes mountain cut young talk soon list song being leave family market price`)
	syllables = strings.Fields("ka lo mi ne ru sa te vo zu bri cha dre fli gro pla que shi stra tho wen xy yel")
)

// prose returns a paragraph of common words and made-up words with punctuation.
func prose(r *rand.Rand) string {
	var sb strings.Builder
	for i := range 20 + r.IntN(60) {
		if i > 0 {
			sb.WriteString([]string{" ", " ", " ", " ", ", ", ". ", "; ", "\n", " (", ") ", "! "}[r.IntN(11)])
		}
		if r.IntN(5) == 0 {
			for range 2 + r.IntN(3) {
				sb.WriteString(syllables[r.IntN(len(syllables))])
			}
			continue
		}
		w := common[r.IntN(len(common))]
		if r.IntN(8) == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		sb.WriteString(w)
	}
	return sb.String()
}

// num returns a number of 1 to 6 digits.
func num(r *rand.Rand) int { return r.IntN([]int{10, 100, 1000, 10000, 100000, 1000000}[r.IntN(6)]) }

// genText returns one corpus document: a word problem, a JSON task tree or a chat transcript.
func genText(r *rand.Rand) string {
	name, thing := names[r.IntN(len(names))], things[r.IntN(len(things))]
	a, b := num(r), num(r)
	op := r.IntN(4)
	problem := fmt.Sprintf("%s has %d %s. %s %s %d more. How many %s does %s have now? It's %d, isn't it?",
		name, a, thing, name, verbs[r.IntN(len(verbs))], b, thing, name, a+b)
	expr := fmt.Sprintf("%d %s %d", a, opSyms[op], b)
	tree := fmt.Sprintf(`{"reasoning": {"thought": "First %s %d and %d.", "subtasks": [{"tooluse": {"tool_name": "calculator", `+
		`"parameters": {"expression": "%s"}, "tool_result": "%d"}}], "conclusion": "The result is %d."}, "answer": "%d"}`,
		opNames[op], a, b, expr, a+b, a+b, a+b)
	switch r.IntN(4) {
	case 0:
		return problem
	case 3:
		return prose(r)
	case 1:
		return tree
	}
	return "<|im_start|>user\n" + problem + "<|im_end|>\n<|im_start|>assistant\n<tool_call>\n" +
		`{"name": "calculator", "arguments": {"expression": "` + expr + `"}}` + "\n</tool_call><|im_end|>\n" +
		"<|im_start|>user\n<tool_response>\n" + fmt.Sprint(a+b) + "\n</tool_response><|im_end|>\n" +
		"<|im_start|>assistant\n" + tree + "<|im_end|>\n<|endoftext|>"
}

func genCorpus(seed uint64, bytes int) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []string
	for n := 0; n < bytes; {
		t := genText(r)
		out = append(out, t)
		n += len(t)
	}
	return out
}

func testOptions(size int) Options {
	return Options{VocabSize: size, Specials: testSpecials, Tokens: testKeys}
}

// heldOut is text not in the corpus: unicode, emoji, odd whitespace, control tokens, keys.
var heldOut = []string{
	"Zoë drank a café au lait in Kraków 🙂👍🏽 — 12 €, naïve façade; 東京 ４５ ٣٤ ½ x²",
	"  leading spaces,\ttabs\t\tand\r\nCRLF lines\n\n\n   trailing   ",
	"It'S THE 'LL 'Re cases' 'd ''s ''",
	`{"reasoning": {"thought": "12345 * 678 = 8369910", "answer": "8369910"}}`,
	"<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\n<tool_call>x</tool_call><|im_end|>",
	"\"answer\":\"answer\":\"answer\": 000000999999",
	"",
	"9",
	"\x00\x01 control \x7f bytes ĠĊ and Ā",
}

// writeFiles trains and writes the two files into a new directory, returning tokenizer.json's path.
func writeFiles(t *testing.T, res *Result) string {
	t.Helper()
	dir := t.TempDir()
	tj, err := res.TokenizerJSON()
	if err != nil {
		t.Fatal(err)
	}
	cj, err := res.TokenizerConfigJSON(testTemplate, "", "<|im_end|>")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(path, tj, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cj, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrainLoadEncode(t *testing.T) {
	const size = 1000
	corpus := genCorpus(1, 400_000)
	res, err := Train(slices.Values(corpus), testOptions(size))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: %+v, vocab %d", res.Stats, res.VocabSize())
	if res.Stats.StoppedEarly || res.VocabSize() != size {
		t.Fatalf("vocab size %d (stopped early %v), want %d", res.VocabSize(), res.Stats.StoppedEarly, size)
	}
	tok, err := tokenizer.FromFile(writeFiles(t, res))
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != size {
		t.Errorf("Arbor vocab size %d, want %d", tok.VocabSize(), size)
	}

	// No token holds two number characters, and nothing but added tokens is outside Vocab.
	for id := range int32(size) {
		text := tok.Token(id)
		if text != res.TokenText(id) {
			t.Fatalf("token %d: Arbor %q, trainer %q", id, text, res.TokenText(id))
		}
		digits := 0
		for _, c := range byteLevelDecode(text) {
			if unicode.IsNumber(c) {
				digits++
			}
		}
		if digits > 1 {
			t.Errorf("token %d %q holds %d digits", id, text, digits)
		}
	}

	// Specials are single control tokens; Tokens are single non-special tokens.
	for _, s := range testSpecials {
		ids := tok.Encode(s)
		if len(ids) != 1 || !tok.IsSpecial(ids[0]) || tok.Token(ids[0]) != s {
			t.Errorf("special %q encodes to %v", s, ids)
		}
		if ids := tok.EncodeText(s); len(ids) < 2 {
			t.Errorf("special %q read as text encodes to %v", s, ids)
		}
	}
	for _, s := range testKeys {
		for _, ctx := range []string{s, "{" + s + " 1}", ", " + s + "\n"} {
			ids := tok.EncodeText(ctx)
			want, _ := res.ID(s)
			if !slices.Contains(ids, want) || (ctx == s && len(ids) != 1) || tok.IsSpecial(want) {
				t.Errorf("%q encodes to %v, want one token %d for %q", ctx, ids, want, s)
			}
		}
	}
	if got := tok.EOS(); !slices.Contains(got, mustID(t, tok, "<|im_end|>")) {
		t.Errorf("EOS %v lacks <|im_end|>", got)
	}
	if tok.AddBOS() {
		t.Error("AddBOS is set")
	}

	// Round trips, digits one per token, and agreement with the trainer's encoder.
	texts := append(slices.Clone(heldOut), genCorpus(99, 20_000)...)
	rr := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		texts = append(texts, randomString(rr, 20))
	}
	for _, text := range texts {
		ids := tok.Encode(text)
		if got := tok.Decode(ids); got != text {
			t.Errorf("round trip of %q gives %q", text, got)
		}
		if ref := res.Encode(text); !slices.Equal(ids, ref) {
			t.Errorf("%q: Arbor %v, trainer %v", text, ids, ref)
		}
		if got := res.Decode(ids); got != text {
			t.Errorf("trainer's round trip of %q gives %q", text, got)
		}
		ndigits := 0
		for _, c := range text {
			if c >= '0' && c <= '9' {
				ndigits++
			}
		}
		nDigitTokens := 0
		for _, id := range ids {
			if s := tok.Decode([]int32{id}); len(s) == 1 && s[0] >= '0' && s[0] <= '9' {
				nDigitTokens++
			}
		}
		if nDigitTokens != ndigits {
			t.Errorf("%q: %d digits but %d digit tokens", text, ndigits, nDigitTokens)
		}
	}

	// The chat template is carried over and renders through Arbor's chat package.
	if tok.ChatTemplate() != testTemplate {
		t.Fatalf("chat template not loaded: %q", tok.ChatTemplate())
	}
	tmpl, err := chat.Compile(tok.ChatTemplate())
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := tmpl.Render(chat.Input{Messages: []chat.Message{
		{Role: "user", Content: "What is 12 + 30?"},
		{Role: "assistant", ToolCalls: []chat.ToolCall{{Type: "function", Function: chat.FunctionCall{Name: "calculator", Arguments: `{"expression": "12 + 30"}`}}}},
		{Role: "tool", Content: "42"},
	}, AddGenerationPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode(prompt)
	if tok.Decode(ids) != prompt {
		t.Errorf("prompt round trip failed")
	}
	nSpecial := 0
	for _, id := range ids {
		if tok.IsSpecial(id) {
			nSpecial++
		}
	}
	if want := strings.Count(prompt, "<|im_") + strings.Count(prompt, "tool_call>") + strings.Count(prompt, "tool_response>"); nSpecial != want {
		t.Errorf("prompt has %d special tokens, want %d:\n%s", nSpecial, want, prompt)
	}
}

func mustID(t *testing.T, tok *tokenizer.Tokenizer, s string) int32 {
	id, ok := tok.ID(s)
	if !ok {
		t.Fatalf("no token %q", s)
	}
	return id
}

func TestDeterministic(t *testing.T) {
	var files [2][2][]byte
	for i := range files {
		res, err := Train(slices.Values(genCorpus(7, 200_000)), testOptions(700))
		if err != nil {
			t.Fatal(err)
		}
		if files[i][0], err = res.TokenizerJSON(); err != nil {
			t.Fatal(err)
		}
		if files[i][1], err = res.TokenizerConfigJSON(testTemplate, "", "<|im_end|>"); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(files[0][0], files[1][0]) || !bytes.Equal(files[0][1], files[1][1]) {
		t.Error("two trainings on the same corpus wrote different files")
	}
}

// alphabet is what randomString draws from: letters, numbers, whitespace, contraction
// letters, punctuation, and parts of added tokens.
var alphabet = []string{"a", "Z", "é", "東", "1", "٣", "½", " ", " ", " ", "\t", "\n", "\r", "'", "s", "S", "l", "L",
	"e", "r", "v", "d", ".", ",", "😀", "{", "\"", ":", "-", "<|im_end|>", "<tool_call>", `"answer":`, "<|", "answer"}

func randomString(r *rand.Rand, maxLen int) string {
	var sb strings.Builder
	for range r.IntN(maxLen) + 1 {
		sb.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return sb.String()
}

// TestSplitMatchesRegex checks splitPieces against the regex itself (regexp2, as Arbor's
// fallback uses) on random strings.
func TestSplitMatchesRegex(t *testing.T) {
	re := regexp2.MustCompile(Pattern, regexp2.Unicode)
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		s := randomString(r, 12)
		var want []string
		runes := []rune(s)
		m, err := re.FindRunesMatch(runes)
		for err == nil && m != nil {
			want = append(want, m.String())
			m, err = re.FindNextMatch(m)
		}
		var got []string
		splitPieces(s, func(p string) { got = append(got, p) })
		if !slices.Equal(got, want) {
			t.Fatalf("%q: split %q, regex %q", s, got, want)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []Options{
		{VocabSize: 300, Specials: []string{""}},
		{VocabSize: 300, Specials: []string{"<a>", "<a>"}},
		{VocabSize: 300, Specials: []string{"<a>"}, Tokens: []string{"<a>"}},
		{VocabSize: 300, Tokens: []string{"Ġx"}},
		{VocabSize: 256, Tokens: []string{"x"}},
	} {
		if _, err := Train(slices.Values([]string{"abc"}), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	res, err := Train(slices.Values([]string{"abab abab"}), Options{VocabSize: 400, Specials: []string{"<s>"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stats.StoppedEarly {
		t.Error("tiny corpus did not stop early")
	}
	if _, err := res.TokenizerConfigJSON("", "<x>", "<s>"); err == nil {
		t.Error("unknown bos accepted")
	}
}

// BenchmarkTrain5MB measures training the size the demo's recipe is near: 2,000 tokens from
// 5 MB (0.16 s on the 2-core AMD EPYC, Zen 5).
func BenchmarkTrain5MB(b *testing.B) {
	corpus := genCorpus(5, 5<<20)
	for b.Loop() {
		if _, err := Train(slices.Values(corpus), testOptions(2000)); err != nil {
			b.Fatal(err)
		}
	}
}

// naiveTrain is Train without the incremental bookkeeping: it recounts every pair of every
// piece before each merge.
func naiveTrain(texts []string, o Options) (vocab []string, merges [][2]int32) {
	r := &Result{Specials: o.Specials, Tokens: o.Tokens}
	r.initAdded()
	counts := map[string]int64{}
	for _, text := range texts {
		r.added.split(text, func(seg string, id int32) {
			if id < 0 {
				splitPieces(seg, func(p string) { counts[p]++ })
			}
		})
	}
	var words [][]int32
	var ns []int64
	ids := map[string]int32{}
	for b := range 256 {
		vocab = append(vocab, string([]byte{byte(b)}))
		ids[vocab[b]] = int32(b)
	}
	for p, n := range counts {
		w := make([]int32, len(p))
		for i := range len(p) {
			w[i] = int32(p[i])
		}
		words, ns = append(words, w), append(ns, n)
	}
	target := o.VocabSize - len(o.Specials) - len(o.Tokens)
	for len(vocab) < target {
		pairs := map[[2]int32]int64{}
		for wi, w := range words {
			for i := 0; i+1 < len(w); i++ {
				pairs[[2]int32{w[i], w[i+1]}] += ns[wi]
			}
		}
		var best [2]int32
		bestN := int64(0)
		for p, n := range pairs {
			if n > bestN || (n == bestN && (p[0] < best[0] || (p[0] == best[0] && p[1] < best[1]))) {
				best, bestN = p, n
			}
		}
		if bestN < 2 {
			break
		}
		s := vocab[best[0]] + vocab[best[1]]
		id, ok := ids[s]
		if !ok {
			id = int32(len(vocab))
			vocab = append(vocab, s)
			ids[s] = id
		}
		merges = append(merges, best)
		for wi := range words {
			words[wi] = mergePair(words[wi], best[0], best[1], id)
		}
	}
	return vocab, merges
}

func TestTrainMatchesNaive(t *testing.T) {
	corpus := genCorpus(11, 60_000)
	// Runs of one character make overlapping pairs ("aaaa"), the hard case for the updates.
	corpus = append(corpus, "aaaa aaaaa aaa bbbbbb abababab aaaa", "xxxxxxxxxxxxxxx yyyy xyxyxy", "aaaa")
	o := testOptions(900)
	res, err := Train(slices.Values(corpus), o)
	if err != nil {
		t.Fatal(err)
	}
	vocab, merges := naiveTrain(corpus, o)
	if !slices.Equal(res.Vocab, vocab) || !slices.Equal(res.Merges, merges) {
		t.Fatalf("incremental training differs from naive: %d/%d tokens, %d/%d merges",
			len(res.Vocab), len(vocab), len(res.Merges), len(merges))
	}
	t.Logf("%d merges agree", len(merges))
}
