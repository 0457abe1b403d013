package dataset

import (
	"slices"
	"testing"

	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/train/corpus"
)

func TestTokenizeSpansAndRows(t *testing.T) {
	tok, err := demo.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	text := "<|im_start|>user\nWhat is 12*3?<|im_end|>\n<|im_start|>assistant\n36<|im_end|>"
	cut := len("<|im_start|>user\nWhat is 12*3?<|im_end|>\n<|im_start|>assistant\n")
	ex := corpus.Example{Text: text, Spans: []corpus.Span{{Start: 0, End: cut}, {Start: cut, End: len(text), Loss: true}}}
	tk, err := Tokenize(tok, ex)
	if err != nil {
		t.Fatal(err)
	}
	prompt := tok.Encode(text[:cut])
	answer := tok.Encode(text[cut:])
	if !slices.Equal(tk.Tokens, append(slices.Clone(prompt), answer...)) {
		t.Fatalf("tokens %v", tk.Tokens)
	}
	for i, w := range tk.Loss {
		if want := i >= len(prompt); (w == 1) != want {
			t.Fatalf("loss[%d] = %v", i, w)
		}
	}
	if tok.Decode(tk.Tokens) != text {
		t.Fatalf("round trip %q", tok.Decode(tk.Tokens))
	}
	if _, err := Tokenize(tok, corpus.Example{Text: text, Spans: []corpus.Span{{Start: 0, End: 5}}}); err == nil {
		t.Fatal("spans short of the text accepted")
	}
	if _, err := Tokenize(tok, corpus.Example{Text: text, Spans: []corpus.Span{{Start: 0, End: 5}, {Start: 6, End: len(text), Loss: true}}}); err == nil {
		t.Fatal("a gap between spans accepted")
	}

	// Rows: every token of every example lands once, in order, with its weight.
	rows, loss := Rows([]Tokenized{tk, tk, tk}, 16, -1)
	var flat []int32
	var flatLoss []float32
	for i := range rows {
		if len(rows[i]) != 16 || len(loss[i]) != 16 {
			t.Fatalf("row %d: %d tokens", i, len(rows[i]))
		}
		for j, id := range rows[i] {
			if id != -1 {
				flat, flatLoss = append(flat, id), append(flatLoss, loss[i][j])
			} else if loss[i][j] != 0 {
				t.Fatalf("a separator with loss")
			}
		}
	}
	want := slices.Concat(tk.Tokens, tk.Tokens, tk.Tokens)
	wantLoss := slices.Concat(tk.Loss, tk.Loss, tk.Loss)
	if !slices.Equal(flat, want) || !slices.Equal(flatLoss, wantLoss) {
		t.Fatalf("packed %v\nwant %v", flat, want)
	}
	// Shuffle is a seeded permutation.
	r1, l1 := slices.Clone(rows), slices.Clone(loss)
	r2, l2 := slices.Clone(rows), slices.Clone(loss)
	Shuffle(r1, l1, 7)
	Shuffle(r2, l2, 7)
	for i := range r1 {
		if !slices.Equal(r1[i], r2[i]) || !slices.Equal(l1[i], l2[i]) {
			t.Fatal("same seed, another order")
		}
	}
}

// TestRowsKeepExamplesWhole: an example that fits in a row is never split across two, and
// short examples fill the room long ones leave.
func TestRowsKeepExamplesWhole(t *testing.T) {
	mk := func(n int, base int32) Tokenized {
		tk := Tokenized{}
		for i := range n {
			tk.Tokens = append(tk.Tokens, base+int32(i))
			tk.Loss = append(tk.Loss, 1)
		}
		return tk
	}
	rows, _ := Rows([]Tokenized{mk(6, 100), mk(6, 200), mk(3, 300), mk(12, 400), mk(1, 500)}, 8, -1)
	// 300 does not fit after 100 (6 + separator): it opens a row after 200's; 500 fits at the
	// end of 100's row; 400, longer than a row, is cut.
	want := [][]int32{
		{400, 401, 402, 403, 404, 405, 406, 407},
		{408, 409, 410, 411, -1, -1, -1, -1},
		{100, 101, 102, 103, 104, 105, -1, 500},
		{200, 201, 202, 203, 204, 205, -1, -1},
		{300, 301, 302, -1, -1, -1, -1, -1},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows: %v", len(rows), rows)
	}
	for i := range want {
		if !slices.Equal(rows[i], want[i]) {
			t.Fatalf("row %d = %v, want %v", i, rows[i], want[i])
		}
	}
}
