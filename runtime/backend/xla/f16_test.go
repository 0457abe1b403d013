package xla

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/model"
)

// TestRoundF16 checks the in-graph rounding against the model package's float32 -> binary16
// conversion (round to nearest, ties to even, as F16C's VCVTPS2PH), bit for bit: every
// binary16 value, the midpoints between neighbours (the ties) and the floats next to them,
// subnormals, overflow, signed zeros and random floats of every magnitude. It runs on the
// gomlx backend GOMLX_BACKEND names (default: the pure-Go one), so that a GPU run checks that
// the device's compiler keeps the rounding's arithmetic as written.
func TestRoundF16(t *testing.T) {
	var in []float32
	for h := range 0x7c00 { // every finite non-negative half, and its negative
		v := model.F16ToF32(uint16(h))
		next := model.F16ToF32(uint16(h + 1)) // 0x7c00 is +Inf: the overflow midpoint 65520 too
		mid := float32((float64(v) + float64(next)) / 2)
		for _, x := range []float32{v, mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, float32(math.Inf(1)))} {
			in = append(in, x, -x)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		in = append(in, math.Float32frombits(r.Uint32()&^(0xff<<23)|uint32(96+r.IntN(64))<<23))
	}
	in = append(in, 0, float32(math.Copysign(0, -1)), 1e9, -1e9, float32(math.Inf(1)), float32(math.Inf(-1)))
	conf := os.Getenv("GOMLX_BACKEND")
	if conf == "" {
		conf = DefaultBackend
	}
	be, err := backends.NewWithConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	exec, err := graph.NewExec(be, roundF16)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(in, len(in)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, x := range in {
		want := model.F16ToF32(model.F32ToF16(x))
		if math.Float32bits(got[i]) != math.Float32bits(want) {
			if bad++; bad <= 10 {
				t.Errorf("roundF16(%g [%08x]) = %g [%08x], want %g [%08x]", x, math.Float32bits(x), got[i],
					math.Float32bits(got[i]), want, math.Float32bits(want))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d values rounded wrongly", bad, len(in))
	}
}

// cacheRows reads the first n rows of layer l's keys (v: values) from the device cache. The
// tests run on gomlx's pure-Go backend, where an f16 cache is stored as float32.
func cacheRows(t *testing.T, x *Model, l int, v bool, n int) []float32 {
	t.Helper()
	i := 2 * l
	if v {
		i++
	}
	flat, err := tensors.CopyFlatData[float32](x.kv[i])
	if err != nil {
		t.Fatal(err)
	}
	return flat[:n*x.kvDim()]
}

// TestKVF16Cache: an f16 cache holds, bit for bit, the f32 cache's keys and values rounded to
// the nearest binary16 (layer 0, whose inputs the cache type does not change) after a
// prefill; ShiftKeys stores its rotated keys rounded again; CopySlots moves values as they
// are; and the logits differ from the f32 cache's, as rounding must make them.
func TestKVF16Cache(t *testing.T) {
	m := testModel(t, "tiny", model.F32)
	var xs [2]*Model
	var logits [2][]float32
	for i, kt := range []backend.KVType{backend.KVF32, backend.KVF16} {
		x, err := New(m, Options{Backend: DefaultBackend, NumPages: 4, PageSize: 4, KV: kt})
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		xs[i] = x
		out := [][]float32{make([]float32, x.VocabSize())}
		in := backend.SeqInput{Tokens: []int32{7, 3, 9, 1, 4, 4, 8, 2, 6}, Positions: positions(0, 9),
			Pages: []int32{0, 1, 2}, Logits: true}
		if err := x.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, out); err != nil {
			t.Fatal(err)
		}
		logits[i] = out[0]
	}
	if slices.Equal(logits[0], logits[1]) {
		t.Error("f16 and f32 caches give identical logits: the f16 cache is not rounded")
	}
	x := xs[1]
	for _, v := range []bool{false, true} {
		f32, f16 := cacheRows(t, xs[0], 0, v, 9), cacheRows(t, x, 0, v, 9)
		for j, a := range f32 {
			if want := model.F16ToF32(model.F32ToF16(a)); math.Float32bits(f16[j]) != math.Float32bits(want) {
				t.Fatalf("values %v, element %d: the f16 cache holds %g, want %g (the f32 cache: %g)", v, j, f16[j], want, a)
			}
		}
	}
	before := cacheRows(t, x, 1, false, 9)
	if err := x.ShiftKeys([]int32{0, 1, 2}, 2, 9, -3); err != nil {
		t.Fatal(err)
	}
	after := cacheRows(t, x, 1, false, 9)
	changed := 0
	for j, a := range after {
		if model.F16ToF32(model.F32ToF16(a)) != a {
			t.Fatalf("after ShiftKeys, key element %d is %g, not a binary16 value", j, a)
		}
		if j < 2*x.kvDim() && a != before[j] {
			t.Fatalf("ShiftKeys changed key element %d outside the shifted slots", j)
		}
		if a != before[j] {
			changed++
		}
	}
	if changed == 0 {
		t.Error("ShiftKeys changed no key")
	}
	// Slots 4..6 (page 1) to page 3.
	if err := x.CopySlots([]kv.Move{{SrcPage: 1, DstPage: 3, N: 3}}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []bool{false, true} {
		rows := cacheRows(t, x, 1, v, 16)
		d := x.kvDim()
		if !slices.Equal(rows[4*d:7*d], rows[12*d:15*d]) {
			t.Errorf("values %v: CopySlots did not copy slots 4..6 to 12..14 exactly", v)
		}
	}
}
