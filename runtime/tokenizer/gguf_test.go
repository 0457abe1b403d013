package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/internal/testmodels"
)

func TestGGUFMetadata(t *testing.T) {
	cases := []struct {
		name, model, pre string
		addBOS, spacePfx bool
		eosTexts         []string // must all be in EOS()
	}{
		{"qwen3", "gpt2", "qwen2", false, false, []string{"<|im_end|>", "<|endoftext|>"}},
		{"llama3", "gpt2", "llama-bpe", true, false, []string{"<|end_of_text|>", "<|eot_id|>"}},
		{"llama2", "llama", "", true, true, []string{"</s>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk := load(t, c.name)
			v, err := tk.GGUF()
			if err != nil {
				t.Fatal(err)
			}
			if v.Model != c.model || (c.model == "gpt2" && v.Pre != c.pre) {
				t.Errorf("model/pre = %s/%s, want %s/%s", v.Model, v.Pre, c.model, c.pre)
			}
			if v.AddBOS != c.addBOS || tk.AddBOS() != c.addBOS {
				t.Errorf("AddBOS = %v (tokenizer %v), want %v", v.AddBOS, tk.AddBOS(), c.addBOS)
			}
			if v.AddSpacePfx != c.spacePfx {
				t.Errorf("AddSpacePfx = %v, want %v", v.AddSpacePfx, c.spacePfx)
			}
			if len(v.Tokens) != tk.VocabSize() || len(v.TokenTypes) != len(v.Tokens) {
				t.Fatalf("%d tokens, %d types, vocab size %d", len(v.Tokens), len(v.TokenTypes), tk.VocabSize())
			}
			for _, s := range c.eosTexts {
				id, ok := tk.ID(s)
				if !ok || !slices.Contains(tk.EOS(), id) {
					t.Errorf("EOS() = %v lacks %s", tk.EOS(), s)
				}
			}
			if tk.EOS()[0] != v.EOS || tk.Token(v.EOS) != tk.EOSToken() {
				t.Errorf("GGUF EOS %d, EOSToken %q", v.EOS, tk.EOSToken())
			}
			if (c.name != "llama2" && tk.ChatTemplate() == "") || v.ChatTemplate != tk.ChatTemplate() {
				t.Errorf("chat template missing or not carried over")
			}
			// Token types follow the added-token flags.
			counts := map[int32]int{}
			for id, typ := range v.TokenTypes {
				counts[typ]++
				switch typ {
				case TokenTypeControl:
					if !tk.IsSpecial(int32(id)) {
						t.Errorf("token %d %q is control but not special", id, v.Tokens[id])
					}
				case TokenTypeByte:
					if _, ok := parseByteToken(v.Tokens[id]); !ok {
						t.Errorf("token %d %q typed byte", id, v.Tokens[id])
					}
				case TokenTypeUnused:
					if v.Tokens[id] != fmt.Sprintf("[PAD%d]", id) {
						t.Errorf("unused token %d is %q", id, v.Tokens[id])
					}
				}
			}
			if c.model == "llama" {
				if counts[TokenTypeByte] != 256 || v.Scores == nil || v.TokenTypes[v.UNK] != TokenTypeUnknown {
					t.Errorf("llama vocab: %d byte tokens, scores %v, unk type %d", counts[TokenTypeByte],
						v.Scores != nil, v.TokenTypes[v.UNK])
				}
			}
			if c.name == "qwen3" {
				// Qwen3's <think> is a non-special added token: user-defined.
				id, _ := tk.ID("<think>")
				if v.TokenTypes[id] != TokenTypeUserDefined {
					t.Errorf("<think> type %d, want user-defined", v.TokenTypes[id])
				}
			}
			t.Logf("%s: %d tokens, types %v, %d merges, BOS %d EOS %d EOT %d PAD %d UNK %d",
				c.name, len(v.Tokens), counts, len(v.Merges), v.BOS, v.EOS, v.EOT, v.PAD, v.UNK)
		})
	}
}

// TestGGUFRoundTrip writes each reference tokenizer as GGUF metadata, rebuilds it with FromGGUF
// and checks that the rebuilt tokenizer encodes the whole corpus identically.
func TestGGUFRoundTrip(t *testing.T) {
	corpus := loadCorpus(t)
	for _, name := range testmodels.Names() {
		t.Run(name, func(t *testing.T) {
			tk := load(t, name)
			v, err := tk.GGUF()
			if err != nil {
				t.Fatal(err)
			}
			v.PadTo(tk.VocabSize() + 7)
			back, err := FromGGUF(v)
			if err != nil {
				t.Fatal(err)
			}
			if back.VocabSize() != tk.VocabSize()+7 ||
				back.Token(int32(tk.VocabSize()+6)) != fmt.Sprintf("[PAD%d]", tk.VocabSize()+6) {
				t.Errorf("padded vocab size %d", back.VocabSize())
			}
			checkSameEncoding(t, tk, back, corpus)
			if back.BOS() != tk.BOS() || back.AddBOS() != tk.AddBOS() || back.BOSToken() != tk.BOSToken() ||
				back.EOSToken() != tk.EOSToken() || back.ChatTemplate() != tk.ChatTemplate() {
				t.Errorf("special tokens differ after round trip")
			}
			a, b := slices.Sorted(slices.Values(tk.EOS())), slices.Sorted(slices.Values(back.EOS()))
			if !slices.Equal(a, b) {
				t.Errorf("EOS %v, after round trip %v", tk.EOS(), back.EOS())
			}
			v2, err := back.GGUF()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(v.Tokens, v2.Tokens) || !slices.Equal(v.TokenTypes, v2.TokenTypes) ||
				!slices.Equal(v.Merges, v2.Merges) {
				t.Errorf("GGUF → tokenizer → GGUF is not stable")
			}
		})
	}
}

// TestGGUFLlamaScores drops the merges from the Llama 2 GGUF vocabulary, as llama.cpp's own
// converter writes it, so that merging goes by SentencePiece scores alone.
func TestGGUFLlamaScores(t *testing.T) {
	corpus := loadCorpus(t)
	tk := load(t, "llama2")
	v, err := tk.GGUF()
	if err != nil {
		t.Fatal(err)
	}
	v.Merges = nil
	back, err := FromGGUF(v)
	if err != nil {
		t.Fatal(err)
	}
	checkSameEncoding(t, tk, back, corpus)
}

func checkSameEncoding(t *testing.T, want, got *Tokenizer, corpus []string) {
	t.Helper()
	same := 0
	for i, s := range corpus {
		a, b := want.Encode(s), got.Encode(s)
		if slices.Equal(a, b) {
			same++
			continue
		}
		t.Errorf("entry %d %q:\n json %s\n gguf %s", i, truncate(s, 50), tokensOf(want, a), tokensOf(got, b))
	}
	t.Logf("%d/%d corpus entries identical", same, len(corpus))
}

func TestFromGGUFErrors(t *testing.T) {
	base := func() *GGUFVocab {
		return &GGUFVocab{Model: "gpt2", Pre: "qwen2", Tokens: []string{"a", "b", "ab"}, Merges: []string{"a b"},
			BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1}
	}
	if _, err := FromGGUF(base()); err != nil {
		t.Fatalf("minimal vocab: %v", err)
	}
	for name, mut := range map[string]func(v *GGUFVocab){
		"model":  func(v *GGUFVocab) { v.Model = "bert" },
		"pre":    func(v *GGUFVocab) { v.Pre = "nonesuch" },
		"types":  func(v *GGUFVocab) { v.TokenTypes = []int32{1} },
		"type":   func(v *GGUFVocab) { v.TokenTypes = []int32{1, 1, 9} },
		"eos":    func(v *GGUFVocab) { v.EOS = 3 },
		"empty":  func(v *GGUFVocab) { v.Tokens = nil },
		"merge":  func(v *GGUFVocab) { v.Merges = []string{"ab"} },
		"scores": func(v *GGUFVocab) { v.Scores = []float32{0} },
	} {
		v := base()
		mut(v)
		if _, err := FromGGUF(v); err == nil || !strings.Contains(err.Error(), "gguf") {
			t.Errorf("%s: err = %v, want a gguf error", name, err)
		}
	}
}
