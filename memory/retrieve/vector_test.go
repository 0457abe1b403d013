package retrieve

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func randVec(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func TestQuantizeErrorBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for trial := range 200 {
		v := randVec(r, 1+r.IntN(700))
		if trial%3 == 0 {
			for i := range v {
				v[i] *= 1e-3 // scale must not matter
			}
		}
		q, scale := Quantize(v)
		var m float32
		for _, x := range v {
			m = max(m, float32(math.Abs(float64(x))))
		}
		if scale != m {
			t.Fatalf("scale %v, want max-abs %v", scale, m)
		}
		back := Dequantize(q, scale)
		bound := float64(scale)/254 + 1e-7*float64(scale)
		for i := range v {
			if e := math.Abs(float64(v[i] - back[i])); e > bound {
				t.Fatalf("component %d: error %g over bound %g", i, e, bound)
			}
			if q[i] == -128 {
				t.Fatal("-128 used; the range is symmetric")
			}
		}
	}
	q, scale := Quantize(make([]float32, 8))
	if scale != 0 || slices.ContainsFunc(q, func(x int8) bool { return x != 0 }) {
		t.Fatal("zero vector must quantize to zeros with scale 0")
	}
}

func TestDotInt8(t *testing.T) {
	t.Run("fast", testDotInt8)
	if hasAVX2 {
		hasAVX2 = false
		defer func() { hasAVX2 = true }()
		t.Run("portable", testDotInt8)
	}
}

func testDotInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for n := range 200 {
		a, b := make([]int8, n), make([]int8, n)
		var want int32
		for i := range a {
			a[i], b[i] = int8(r.IntN(255)-127), int8(r.IntN(255)-127)
			want += int32(a[i]) * int32(b[i])
		}
		if got := DotInt8(a, b); got != want {
			t.Fatalf("n=%d: %d, want %d", n, got, want)
		}
	}
	big := slices.Repeat([]int8{127}, 4099)
	neg := slices.Repeat([]int8{-127}, 4099)
	if got := DotInt8(big, big); got != 4099*127*127 {
		t.Fatalf("saturated: %d", got)
	}
	if got := DotInt8(big, neg); got != -4099*127*127 {
		t.Fatalf("saturated negative: %d", got)
	}
	// Unequal lengths use the shorter.
	if got := DotInt8(big[:40], neg); got != -40*127*127 {
		t.Fatalf("unequal lengths: %d", got)
	}
}

// refSearch is the brute-force reference: float64 cosine of the dequantized vectors, sorted
// by score then id.
func refSearch(ids []string, vecs [][]float32, query []float32, k int) []Hit {
	deq := func(v []float32) []float64 {
		q, s := Quantize(v)
		out := make([]float64, len(q))
		for i, x := range q {
			out[i] = float64(x) * float64(s) / 127
		}
		return out
	}
	qq := deq(query)
	var hits []Hit
	for i, v := range vecs {
		c := deq(v)
		var d, na, nb float64
		for j := range c {
			d += qq[j] * c[j]
			na += qq[j] * qq[j]
			nb += c[j] * c[j]
		}
		s := 0.0
		if na > 0 && nb > 0 {
			s = d / math.Sqrt(na*nb)
		}
		hits = append(hits, Hit{ids[i], s})
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	return hits[:min(k, len(hits))]
}

func TestVectorSearchMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{1, 7, 100, 3000, parallelMin + 1234} {
		dim := 64 + r.IntN(64)
		x := NewVectorIndex(dim)
		ids := make([]string, n)
		vecs := make([][]float32, n)
		for i := range n {
			ids[i] = fmt.Sprintf("c%06d", r.IntN(1e6)*1000+i) // random id order against insertion order
			vecs[i] = randVec(r, dim)
			if i > 0 && i%10 == 0 {
				vecs[i] = slices.Clone(vecs[i-1]) // exact duplicates: ties must break by id
			}
			if err := x.Add(ids[i], vecs[i]); err != nil {
				t.Fatal(err)
			}
		}
		for range 5 {
			query := randVec(r, dim)
			if r.IntN(2) == 0 {
				query = slices.Clone(vecs[r.IntN(n)])
			}
			for _, k := range []int{1, 5, 50} {
				got, err := x.Search(query, k)
				if err != nil {
					t.Fatal(err)
				}
				want := refSearch(ids, vecs, query, k)
				if len(got) != len(want) {
					t.Fatalf("n=%d k=%d: %d hits, want %d", n, k, len(got), len(want))
				}
				for i := range got {
					if got[i].ID != want[i].ID || math.Abs(got[i].Score-want[i].Score) > 1e-9 {
						t.Fatalf("n=%d k=%d rank %d: got %v, want %v", n, k, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func TestVectorIndexRemoveReplace(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	x := NewVectorIndex(16)
	ids := []string{"a", "b", "c", "d"}
	vecs := [][]float32{}
	for _, id := range ids {
		v := randVec(r, 16)
		vecs = append(vecs, v)
		x.Add(id, v)
	}
	if !x.Remove("b") || x.Remove("b") {
		t.Fatal("Remove should report presence once")
	}
	if x.Len() != 3 {
		t.Fatalf("Len %d", x.Len())
	}
	got, _ := x.Search(vecs[3], 1)
	if got[0].ID != "d" || math.Abs(got[0].Score-1) > 1e-9 {
		t.Fatalf("after removal, a vector's own query found %v", got)
	}
	x.Add("d", vecs[0]) // replace
	if x.Len() != 3 {
		t.Fatalf("replace changed Len to %d", x.Len())
	}
	got, _ = x.Search(vecs[0], 2)
	if got[0].ID != "a" || got[1].ID != "d" {
		t.Fatalf("replaced vector: %v (equal vectors tie, smaller id first)", got)
	}
	if err := x.Add("e", make([]float32, 3)); err == nil {
		t.Fatal("wrong width accepted")
	}
	if got, err := x.Search(make([]float32, 16), 5); err != nil || len(got) != 0 {
		t.Fatalf("zero query: %v %v, want nothing", got, err)
	}
	if _, err := x.Search(make([]float32, 3), 1); err == nil {
		t.Fatal("wrong query width accepted")
	}
}
