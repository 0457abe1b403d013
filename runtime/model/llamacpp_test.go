package model

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// byteVocab is a byte-level BPE vocabulary with no merges: token i < 256 is byte i in GPT-2's
// byte-to-unicode spelling, then one control token for end of text. Enough for llama.cpp to
// load a model and run it on token ids.
func byteVocab() *tokenizer.GGUFVocab {
	v := &tokenizer.GGUFVocab{Model: "gpt2", Pre: "default", BOS: -1, EOS: 256, UNK: -1, PAD: -1, EOT: -1}
	// Printable bytes spell themselves; the others get code points from 256 up, in byte order.
	next := rune(256)
	for b := 0; b < 256; b++ {
		r := rune(b)
		if !(b >= '!' && b <= '~' || b >= 0xa1 && b <= 0xac || b >= 0xae && b <= 0xff) {
			r = next
			next++
		}
		v.Tokens = append(v.Tokens, string(r))
		v.TokenTypes = append(v.TokenTypes, 1)
	}
	v.Tokens = append(v.Tokens, "<|endoftext|>")
	v.TokenTypes = append(v.TokenTypes, 3)
	return v
}

// TestAgainstLlamaCpp writes tiny GGUF models, runs llama.cpp on them (through bench/'s
// node-llama-cpp script) and compares its next-token log-probabilities with the float64
// reference forward pass on the same weights. It checks the GGUF writer against the
// implementation the files are for: metadata, tensor layout, the llama Q/K permutation and
// rope_freqs. Opt in with ARBOR_LLAMACPP=1 (needs node and `npm ci --prefix bench`).
func TestAgainstLlamaCpp(t *testing.T) {
	if os.Getenv("ARBOR_LLAMACPP") == "" {
		t.Skip("set ARBOR_LLAMACPP=1 to compare with llama.cpp (bench/node_modules)")
	}
	script, _ := filepath.Abs("../../bench/llamacpp.mjs")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "node-llama-cpp")); err != nil {
		t.Skip("bench/node_modules/node-llama-cpp is not installed")
	}
	prompt := []int{1, 100, 7, 200, 42, 5, 9, 255, 17, 33, 71, 150}
	for _, name := range []string{"tiny", "tiny-llama", "tiny-qwen2"} {
		for _, d := range []DType{F32, F16, BF16, Q8_0} {
			cfg := tinyConfig(t, name)
			w, err := NewRandom(cfg, d, 21)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), name+".gguf")
			if err := WriteGGUF(p, cfg, w, byteVocab(), name); err != nil {
				t.Fatal(err)
			}
			ids, _ := json.Marshal(prompt)
			out, err := exec.Command("node", script, "--model", p, "--prompt-ids", string(ids), "--max-tokens", "1",
				"--top-logits", "8", "--exact", "--threads", "1", "--no-warmup").Output()
			if err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					t.Fatalf("%s: llama.cpp: %v\n%s", name, err, ee.Stderr)
				}
				t.Fatal(err)
			}
			var res struct {
				IDs []int `json:"ids"`
				Top []struct {
					ID      int     `json:"id"`
					Logprob float64 `json:"logprob"`
				} `json:"top_logits"`
			}
			if err := json.Unmarshal([]byte(strings.TrimSpace(string(out))), &res); err != nil {
				t.Fatalf("%s: %v: %s", name, err, out)
			}
			_, logits := newRef(cfg, w).forward(prompt)
			mx := math.Inf(-1)
			for _, v := range logits {
				mx = math.Max(mx, v)
			}
			var sum float64
			for _, v := range logits {
				sum += math.Exp(v - mx)
			}
			lse := mx + math.Log(sum)
			order := make([]int, len(logits))
			for i := range order {
				order[i] = i
			}
			sort.Slice(order, func(a, b int) bool { return logits[order[a]] > logits[order[b]] })
			// f32 weights: llama.cpp computes in f32; with f16/bf16 weights it rounds activations
			// to the same type for the products, and with q8_0 to 8 bits.
			tol := map[DType]float64{F32: 2e-3, F16: 0.02, BF16: 0.1, Q8_0: 0.15}[d]
			if len(res.Top) == 0 || res.Top[0].ID != order[0] {
				t.Errorf("%s %v: llama.cpp's top token %v, the reference's %d (%v)", name, d, res.Top,
					order[0], logits[order[0]]-lse)
				continue
			}
			worst := 0.0
			for _, tp := range res.Top {
				diff := math.Abs(tp.Logprob - (logits[tp.ID] - lse))
				worst = math.Max(worst, diff)
				if diff > tol {
					t.Errorf("%s %v: token %d: llama.cpp logprob %.5f, reference %.5f", name, d, tp.ID,
						tp.Logprob, logits[tp.ID]-lse)
				}
			}
			t.Logf("%s %v: top token %d agrees; largest logprob difference over the top %d: %.2g", name, d,
				order[0], len(res.Top), worst)
		}
	}
}
