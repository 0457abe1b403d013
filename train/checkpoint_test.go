package train

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestCheckpointResumes: training k steps, saving, loading into a fresh model and optimizer and
// training on gives exactly the weights of training without the break.
func TestCheckpointResumes(t *testing.T) {
	cfg := tinyConfig(true, false)
	tokens := [][]int32{{1, 2, 3, 4, 5, 6}, {2, 3, 4, 5, 6, 7}}
	train := func(m *Model, o *AdamW, steps int) {
		g := NewGrads(m)
		for range steps {
			g.Zero()
			if _, _, err := m.Step(tokens, nil, g); err != nil {
				t.Fatal(err)
			}
			o.Step(m, g, 1e-2)
		}
	}
	a, err := NewModel(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	oa := NewAdamW(0.1)
	train(a, oa, 6)

	b, _ := NewModel(cfg, 3)
	ob := NewAdamW(0.1)
	train(b, ob, 3)
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	if err := SaveCheckpoint(path, b, ob, map[string]string{"data_step": "3"}); err != nil {
		t.Fatal(err)
	}
	c, _ := NewModel(cfg, 99) // other initial weights: all must come from the file
	oc := NewAdamW(0.1)
	meta, err := LoadCheckpoint(path, c, oc)
	if err != nil {
		t.Fatal(err)
	}
	if meta["data_step"] != "3" || oc.Steps() != 3 {
		t.Fatalf("meta %v, steps %d", meta, oc.Steps())
	}
	train(c, oc, 3)
	for i, ta := range a.Tensors(&cfg) {
		if tc := c.Tensors(&cfg)[i]; !slices.Equal(ta.Data, tc.Data) {
			t.Fatalf("%s differs after resuming", ta.Name)
		}
	}
}
