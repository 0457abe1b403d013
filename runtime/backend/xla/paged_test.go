package xla

import (
	"math"
	"os"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/conformance"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// TestConformance runs the backend suite on this backend (gomlx's pure-Go backend here):
// its logits against the cpu backend's dense recomputation for every architecture and weight
// type, through prefill, decode, mixed batches, reused pages, pruned spans (CopySlots) and
// re-rotated keys (ShiftKeys), and the same refusals of malformed batches. q8_0 is allowed
// logitTolerance's 3e-2: the weights are dequantized to f32 here, while the cpu backend
// quantizes activations to 8 bits per block as ggml does.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(m *model.Model, numPages, pageSize int, kt backend.KVType) (backend.Backend, error) {
		return New(m, Options{Backend: "go:ops_sequential", NumPages: numPages, PageSize: pageSize, KV: kt})
	}, conformance.Options{Tolerance: logitTolerance})
}

// TestClosed: a closed model refuses work instead of crashing.
func TestClosed(t *testing.T) {
	m := testModel(t, "tiny", model.F32)
	x, err := New(m, Options{NumPages: 4, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	row := [][]float32{make([]float32, m.Config.VocabSize)}
	ok := backend.SeqInput{Tokens: []int32{1}, Positions: []int32{0}, Pages: []int32{0}, Logits: true}
	if err := x.Forward(&backend.Batch{Seqs: []backend.SeqInput{ok}}, row); err == nil {
		t.Error("Forward after Close succeeded")
	}
	if err := x.CopySlots(nil); err == nil {
		t.Error("CopySlots after Close succeeded")
	}
	if err := x.ShiftKeys([]int32{0}, 0, 1, -1); err == nil {
		t.Error("ShiftKeys after Close succeeded")
	}
}

// TestCompilations checks the compile counter against the power-of-two bucketing: a 5-token
// prefill (T=5 -> 8, P=0 -> 1) then 12 decode steps whose contexts are 5..16 rows (P -> 8 for
// 5..8, 16 for 9..16; T=1) compile 3 graphs; repeating the same kind of steps on a second
// sequence compiles none; two copies of the same size compile one graph.
func TestCompilations(t *testing.T) {
	m := testModel(t, "tiny", model.F32)
	x, err := New(m, Options{Backend: "go:ops_sequential", NumPages: 8, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.Compilations(); got != 0 {
		t.Fatalf("after New: %d compilations, want 0", got)
	}
	pool := kv.NewPool(x.NumPages(), x.PageSize())
	out := [][]float32{make([]float32, x.VocabSize())}
	run := func() {
		s := pool.NewSequence()
		defer s.Free()
		ids := []int32{3, 1, 4, 1, 5}
		pos := []int32{0, 1, 2, 3, 4}
		if _, err := s.Append(len(ids)); err != nil {
			t.Fatal(err)
		}
		in := backend.SeqInput{Tokens: ids, Positions: pos, Pages: s.Pages(), Logits: true}
		if err := x.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, out); err != nil {
			t.Fatal(err)
		}
		for step := 0; step < 12; step++ {
			at := s.Len()
			if _, err := s.Append(1); err != nil {
				t.Fatal(err)
			}
			in := backend.SeqInput{
				Tokens: []int32{int32(step + 7)}, Positions: []int32{int32(at)}, Start: at, Pages: s.Pages(), Logits: true,
			}
			if err := x.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	run()
	if got := x.Compilations(); got != 3 {
		t.Fatalf("prefill of 5 + 12 decode steps: %d compilations, want 3 ((8,1,1), (1,8,1), (1,16,1))", got)
	}
	run()
	if got := x.Compilations(); got != 3 {
		t.Fatalf("the same steps again: %d compilations, want still 3", got)
	}
	for range 2 {
		if err := x.CopySlots([]kv.Move{{SrcPage: 0, DstPage: 1, DstOff: 1, N: 3}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := x.Compilations(); got != 4 {
		t.Fatalf("after two copies of 3 slots: %d compilations, want 4", got)
	}
}

// TestGraphEviction: with room for two compiled graphs, a third shape evicts the least
// recently used one, which compiles again when it comes back; results stay right throughout.
func TestGraphEviction(t *testing.T) {
	m := testModel(t, "tiny", model.F32)
	x, err := New(m, Options{Backend: "go:ops_sequential", NumPages: 8, PageSize: 4, MaxGraphs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	out := [][]float32{make([]float32, x.VocabSize())}
	first := map[int][]float32{}
	for i, n := range []int{1, 2, 4, 1, 4, 2} { // three shapes (T = 1, 2, 4; P = 1)
		ids := make([]int32, n)
		for j := range ids {
			ids[j] = int32(j + 3)
		}
		in := backend.SeqInput{Tokens: ids, Positions: positions(0, n), Pages: []int32{0}, Logits: true}
		if err := x.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, out); err != nil {
			t.Fatal(err)
		}
		if x.graphs.len() > 2 {
			t.Fatalf("step %d: %d graphs held, want at most 2", i, x.graphs.len())
		}
		if want, ok := first[n]; ok {
			for j := range want {
				if want[j] != out[0][j] {
					t.Fatalf("step %d: %d tokens after eviction: logit %d is %v, was %v", i, n, j, out[0][j], want[j])
				}
			}
		} else {
			first[n] = append([]float32(nil), out[0]...)
		}
	}
	// 1, 2, 4 compile; 1 was evicted by 4 and compiles again (evicting 2); 4 is held; 2 again.
	if got := x.Compilations(); got != 5 {
		t.Errorf("%d compilations, want 5", got)
	}
	if x.graphs.evictions != 3 {
		t.Errorf("%d evictions, want 3", x.graphs.evictions)
	}
}

func positions(from, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(from + i)
	}
	return out
}

// TestCacheUpdateChoice: the cache-write formulation follows the backend's capabilities:
// DynamicUpdateSlice where the backend has it, ScatterUpdate otherwise; asking for slices on a
// backend without the operation is refused at New.
func TestCacheUpdateChoice(t *testing.T) {
	with := backends.Capabilities{Operations: map[backends.OpType]bool{backends.OpTypeDynamicUpdateSlice: true}}
	without := backends.Capabilities{Operations: map[backends.OpType]bool{}}
	for _, c := range []struct {
		want string
		caps backends.Capabilities
		got  string
		fail bool
	}{
		{"", with, UpdateSlices, false},
		{"", without, UpdateScatter, false},
		{UpdateScatter, with, UpdateScatter, false},
		{UpdateSlices, with, UpdateSlices, false},
		{UpdateSlices, without, "", true},
		{"dus", with, "", true},
	} {
		got, err := chooseUpdate(c.want, c.caps, "test")
		if got != c.got || (err != nil) != c.fail {
			t.Errorf("chooseUpdate(%q): %q, %v; want %q, error %v", c.want, got, err, c.got, c.fail)
		}
	}
	m := testModel(t, "tiny", model.F32)
	x, err := New(m, Options{Backend: "go:ops_sequential", NumPages: 4, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := x.CacheUpdate(); got != UpdateScatter {
		t.Errorf("pure-Go backend: cache update %q, want %q (it has no DynamicUpdateSlice)", got, UpdateScatter)
	}
	x.Close()
	opt := Options{Backend: "go:ops_sequential", NumPages: 4, PageSize: 4, CacheUpdate: UpdateSlices}
	if _, err := New(m, opt); err == nil {
		t.Error("New with cache update slices on the pure-Go backend succeeded")
	}
}

// TestConformanceSlices runs the suite with DynamicUpdateSlice cache writes, on a backend that
// has the operation: GOMLX_BACKEND names it (an XLA PJRT plugin, in a binary built with -tags
// pjrt). gomlx's pure-Go backend has no DynamicUpdateSlice, so there the test is skipped.
func TestConformanceSlices(t *testing.T) {
	conf := os.Getenv("GOMLX_BACKEND")
	if conf == "" {
		conf = DefaultBackend
	}
	be, err := backends.NewWithConfig(conf)
	if err != nil {
		t.Skipf("gomlx backend %q: %v", conf, err)
	}
	ok := be.Capabilities().Operations[backends.OpTypeDynamicUpdateSlice]
	be.Finalize()
	if !ok {
		t.Skipf("gomlx backend %q has no DynamicUpdateSlice: set GOMLX_BACKEND to an XLA plugin "+
			"(build with -tags pjrt) to run the slices cache update", conf)
	}
	conformance.Run(t, func(m *model.Model, numPages, pageSize int, kt backend.KVType) (backend.Backend, error) {
		return New(m, Options{Backend: conf, NumPages: numPages, PageSize: pageSize, CacheUpdate: UpdateSlices, KV: kt})
	}, conformance.Options{Tolerance: logitTolerance})
}

// TestSparseCompilations: a DELTA decode compiles one graph per segment of layers (here
// [full, select] | [sparse, select] | [sparse]) and context bucket, and no more: a 17-token
// prefill then decode steps to 100 slots (context rows bucketed to 32, 64 and 128; the
// sparse layers' gathered rows, 3 whole pages and part of the newest, always to 16) compile
// 1 + 3*3 graphs, and a second sequence doing the same compiles none.
func TestSparseCompilations(t *testing.T) {
	cfg, err := model.Shape("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumLayers, cfg.VocabSize = 5, 384
	w, err := model.NewRandom(&cfg, model.F32, 7)
	if err != nil {
		t.Fatal(err)
	}
	m := &model.Model{Config: cfg, Weights: *w}
	x, err := New(m, Options{Backend: "go:ops_sequential", NumPages: 32, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	sp := &sparse.Config{
		Layers: []sparse.Mode{sparse.Full, sparse.Select, sparse.Sparse, sparse.Select, sparse.Sparse}, Budget: 2, Recent: 2,
	}
	pool := kv.NewPool(x.NumPages(), x.PageSize())
	out := [][]float32{make([]float32, x.VocabSize())}
	run := func() {
		s := pool.NewSequence()
		defer s.Free()
		if _, err := s.Append(17); err != nil {
			t.Fatal(err)
		}
		ids := make([]int32, 17)
		for i := range ids {
			ids[i] = int32(i*7%300 + 1)
		}
		in := backend.SeqInput{Tokens: ids, Positions: positions(0, 17), Pages: s.Pages(), Logits: true, Sparse: sp}
		if err := x.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, out); err != nil {
			t.Fatal(err)
		}
		for at := 17; at < 100; at++ {
			if _, err := s.Append(1); err != nil {
				t.Fatal(err)
			}
			b := &backend.Batch{Seqs: []backend.SeqInput{{
				Tokens: []int32{int32(at % 300)}, Positions: []int32{int32(at)}, Start: at, Pages: s.Pages(),
				Logits: true, Sparse: sp,
			}}}
			if err := x.Forward(b, out); err != nil {
				t.Fatal(err)
			}
			// Full and select layers see at+1 slots; sparse ones 3 pages and the newest's part.
			want := int(math.Round(float64(3*(at+1)+2*(12+at%4+1)) / 5))
			if s := b.Seqs[0]; s.Context != at+1 || s.Attended != want {
				t.Fatalf("slot %d: context %d, attended %d; want %d, %d", at, s.Context, s.Attended, at+1, want)
			}
		}
	}
	run()
	if got := x.Compilations(); got != 10 {
		t.Errorf("prefill and sparse decode to 100 slots: %d compilations, want 10", got)
	}
	run()
	if got := x.Compilations(); got != 10 {
		t.Errorf("the same steps again: %d compilations, want still 10", got)
	}
}
