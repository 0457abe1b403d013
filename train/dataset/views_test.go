package dataset

import (
	"context"
	"slices"
	"testing"

	"github.com/arborlabs/arbor/evals/arith"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/calc"
	"github.com/arborlabs/arbor/train/corpus"
	"github.com/arborlabs/arbor/tree"
)

// TestTreeViewsAreWhatTheRuntimeKeeps replays each tree's tokens through the runtime's tree
// hook (tree.Run, with the Qwen3 tokenizer, real BPE merges across the lists' brackets) as
// the engine would, and checks that every view of corpus.TreeViews, tokenized, is exactly the
// sequence the KV cache holds just before the next drop (prompt and kept output, in order),
// with loss on exactly the tokens the model wrote since the previous drop.
func TestTreeViewsAreWhatTheRuntimeKeeps(t *testing.T) {
	tok, err := demo.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := chat.Compile(tok.ChatTemplate())
	if err != nil {
		t.Fatal(err)
	}
	f := corpus.Format{Template: tmpl, EOS: "<|im_end|>"}
	set, err := tools.NewSet(calc.New())
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, w := range arith.GenerateWorked(arith.Options{Count: 30, Seed: 11, Split: arith.SplitTrain, MinSteps: 2, MaxSteps: 5}) {
		whole, err := corpus.TreeViews(w, f, -1)
		if err != nil || len(whole) != 1 {
			t.Fatalf("%s: %d views, %v", w.Problem.ID, len(whole), err)
		}
		full, err := Tokenize(tok, whole[0])
		if err != nil {
			t.Fatal(err)
		}
		prompt := len(tok.Encode(whole[0].Text[:whole[0].Spans[0].End]))
		for _, buffer := range []int{1, 2} {
			views, err := corpus.TreeViews(w, f, buffer)
			if err != nil {
				t.Fatal(err)
			}
			// One drop per closed list beyond the buffer.
			if want := max(len(w.Steps)-buffer, 0) + 1; len(views) != want {
				t.Fatalf("%s, buffer %d: %d views, want %d", w.Problem.ID, buffer, len(views), want)
			}
			run := tree.NewRun(tree.RunOptions{Buffer: buffer, TokenBytes: tok.TokenBytes, Encode: tok.EncodeText, Tools: tools.JSONCaller{Set: set}})
			out := full.Tokens[prompt:]
			kept := make([]bool, 0, len(out))
			wrote := make([]bool, 0, len(out)) // written by the model since the last drop
			k := 0
			check := func() {
				t.Helper()
				got, err := Tokenize(tok, views[k])
				if err != nil {
					t.Fatal(err)
				}
				want := slices.Clone(full.Tokens[:prompt])
				var wantLoss []float32
				for range prompt {
					wantLoss = append(wantLoss, 0)
				}
				for j := range kept {
					if kept[j] {
						want = append(want, out[j])
						wantLoss = append(wantLoss, map[bool]float32{false: 0, true: 1}[wrote[j]])
					}
				}
				if !slices.Equal(got.Tokens, want) {
					t.Fatalf("%s, buffer %d, view %d:\n got %q\nwant %q", w.Problem.ID, buffer, k, tok.Decode(got.Tokens), tok.Decode(want))
				}
				if !slices.Equal(got.Loss, wantLoss) {
					t.Fatalf("%s, buffer %d, view %d: loss %v, want %v", w.Problem.ID, buffer, k, got.Loss, wantLoss)
				}
				k++
				checked++
			}
			var feed func(j int, forced bool) int
			feed = func(j int, forced bool) int {
				d := run.Appended(j, out[j])
				if err := run.Err(); err != nil {
					t.Fatal(err)
				}
				if len(d.Drop) > 0 {
					kept, wrote = append(kept, true), append(wrote, !forced)
					check()
					for _, s := range d.Drop {
						for i := s.Begin; i < s.End; i++ {
							kept[i] = false
						}
					}
					clear(wrote)
				} else {
					kept, wrote = append(kept, true), append(wrote, !forced)
				}
				if d.Call != nil {
					res, err := d.Call(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(res, out[j+1:j+1+len(res)]) {
						t.Fatalf("%s: forced %q, the example has %q", w.Problem.ID, tok.Decode(res), tok.Decode(out[j+1:j+1+len(res)]))
					}
					for i := range res {
						feed(j+1+i, true)
					}
					return j + 1 + len(res)
				}
				return j + 1
			}
			for j := 0; j < len(out); {
				j = feed(j, false)
			}
			check()
			if k != len(views) {
				t.Fatalf("%s, buffer %d: %d views checked of %d", w.Problem.ID, buffer, k, len(views))
			}
		}
	}
	if checked < 60 {
		t.Fatalf("only %d views checked", checked)
	}
	if _, err := corpus.TreeViews(arith.GenerateWorked(arith.Options{Count: 1, Seed: 1, Split: arith.SplitTrain})[0], f, 0); err == nil {
		t.Fatal("buffer 0 views made")
	}
}
