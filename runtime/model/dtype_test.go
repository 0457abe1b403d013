package model

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// nearestRef rounds x to the nearest of the sorted finite values vals (ties to the one whose
// bits are even), the slow obvious way; beyond the largest finite value by half an ulp it is
// ±Inf, as IEEE rounding says.
func nearestRef(x float64, vals []float64, bits []uint16, maxHalfUlp float64, infBits uint16) uint16 {
	if math.Abs(x) >= maxHalfUlp {
		if x < 0 {
			return infBits | 0x8000
		}
		return infBits
	}
	i := sort.SearchFloat64s(vals, x)
	if i < len(vals) && vals[i] == x {
		return bits[i]
	}
	lo, hi := i-1, i
	dlo, dhi := x-vals[lo], vals[hi]-x
	switch {
	case dlo < dhi:
		return bits[lo]
	case dhi < dlo:
		return bits[hi]
	}
	if bits[lo]&1 == 0 {
		return bits[lo]
	}
	return bits[hi]
}

func TestF16Exhaustive(t *testing.T) {
	// Every f16 survives the round trip through float32.
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			if !math.IsNaN(float64(f)) {
				t.Fatalf("f16 %#04x: want NaN, got %v", h, f)
			}
			if g := F32ToF16(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, g)
			}
			continue
		}
		if g := F32ToF16(f); g != uint16(h) {
			t.Fatalf("f16 %#04x -> %v -> %#04x", h, f, g)
		}
	}
	// Known values.
	for _, c := range []struct {
		f float32
		h uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {65519.99, 0x7bff},
		{float32(math.Inf(-1)), 0xfc00}, {5.960464477539063e-08, 0x0001}, {2.98023223876953125e-08, 0x0000},
		{2.98023224e-08 * 1.0001, 0x0001}, {6.097555160522461e-05, 0x03ff}, {6.103515625e-05, 0x0400},
		{float32(math.Copysign(0, -1)), 0x8000}, {1.0009765625, 0x3c01}, {1.00048828125,
			0x3c00}, {1.00146484375, 0x3c02},
	} {
		if g := F32ToF16(c.f); g != c.h {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, g, c.h)
		}
	}
	// Random float32s round to the nearest f16, ties to even.
	var vals []float64
	var bits []uint16
	for h := 0xfbff; h >= 0x8000; h-- { // negatives, most negative first
		vals = append(vals, float64(F16ToF32(uint16(h))))
		bits = append(bits, uint16(h))
	}
	for h := 0; h <= 0x7bff; h++ {
		vals = append(vals, float64(F16ToF32(uint16(h))))
		bits = append(bits, uint16(h))
	}
	// -0 and +0 are both there and equal; keep +0 for search simplicity.
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		var f float32
		switch i % 3 {
		case 0:
			f = math.Float32frombits(r.Uint32())
		case 1:
			f = float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-30)))
		default: // exact midpoints and neighbours
			a := F16ToF32(uint16(r.IntN(0x7bff)))
			nb := F16ToF32(F32ToF16(a) + 1)
			mid := float32((float64(a) + float64(nb)) / 2)
			f = []float32{mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, 1e9)}[r.IntN(3)]
		}
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) || f == 0 {
			continue
		}
		want := nearestRef(float64(f), vals, bits, 65520, 0x7c00)
		if got := F32ToF16(f); got != want {
			t.Fatalf("F32ToF16(%g [%#08x]) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
}

func TestBF16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := BF16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			if !math.IsNaN(float64(BF16ToF32(F32ToBF16(f)))) {
				t.Fatalf("bf16 NaN %#04x lost", h)
			}
			continue
		}
		if g := F32ToBF16(f); g != uint16(h) {
			t.Fatalf("bf16 %#04x -> %v -> %#04x", h, f, g)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200000; i++ {
		b := r.Uint32()
		f := math.Float32frombits(b)
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		lo := uint16(b >> 16)
		hi := lo + 1
		x := float64(f)
		dl := math.Abs(x - float64(BF16ToF32(lo)))
		hv := float64(BF16ToF32(hi))
		if math.IsInf(hv, 0) { // IEEE rounds as if the exponent went on: the next value is ±2^128
			hv = math.Copysign(math.Pow(2, 128), hv)
		}
		dh := math.Abs(hv - x)
		want := lo
		if dh < dl || (dh == dl && lo&1 == 1) {
			want = hi
		}
		if got := F32ToBF16(f); got != want {
			t.Fatalf("F32ToBF16(%#08x) = %#04x, want %#04x", b, got, want)
		}
	}
	if g := F32ToBF16(math.Float32frombits(0x3f808000)); g != 0x3f80 { // tie, even below
		t.Errorf("tie to even: got %#04x", g)
	}
	if g := F32ToBF16(math.Float32frombits(0x3f818000)); g != 0x3f82 { // tie, even above
		t.Errorf("tie to even: got %#04x", g)
	}
	if g := F32ToBF16(math.MaxFloat32); g != 0x7f80 {
		t.Errorf("MaxFloat32 should round to Inf, got %#04x", g)
	}
}

func TestQ8_0(t *testing.T) {
	src := make([]float32, 64)
	for i := range src {
		src[i] = float32(i) - 10
	}
	src[40] = -127 // second block: max |x| = 127 gives d = 1 exactly
	for i := 32; i < 64; i++ {
		if i != 40 {
			src[i] = float32(i-32) + 0.5
		}
	}
	dst := make([]byte, 2*Q8BlockBytes)
	QuantizeQ8_0(dst, src)
	d0 := F16ToF32(binary.LittleEndian.Uint16(dst))
	if want := F16ToF32(F32ToF16(21.0 / 127)); d0 != want {
		t.Errorf("block 0 scale %v, want %v", d0, want)
	}
	if int8(dst[2+31]) != 127 || int8(dst[2+0]) != -60 {
		t.Errorf("block 0 quants: q[31]=%d q[0]=%d, want 127 and -60", int8(dst[2+31]), int8(dst[2]))
	}
	b1 := dst[Q8BlockBytes:]
	if d1 := F16ToF32(binary.LittleEndian.Uint16(b1)); d1 != 1 {
		t.Errorf("block 1 scale %v, want 1", d1)
	}
	// 0.5 rounds away from zero (C roundf), 1.5 -> 2.
	if int8(b1[2+0]) != 1 || int8(b1[2+1]) != 2 || int8(b1[2+8]) != -127 {
		t.Errorf("block 1 quants %d %d %d, want 1 2 -127", int8(b1[2]), int8(b1[3]), int8(b1[10]))
	}
	back := make([]float32, 64)
	DequantizeQ8_0(back, dst)
	for i := range src {
		if math.Abs(float64(back[i]-src[i])) > 21.0/127/2*1.01+1e-6 && i < 32 {
			t.Errorf("x[%d]=%v dequantized to %v", i, src[i], back[i])
		}
	}
	// All-zero block: d = 0, quants 0, no NaN.
	z := make([]byte, Q8BlockBytes)
	QuantizeQ8_0(z, make([]float32, 32))
	zb := make([]float32, 32)
	DequantizeQ8_0(zb, z)
	for _, v := range zb {
		if v != 0 {
			t.Fatalf("zero block decoded to %v", zb)
		}
	}
}

func TestTensorConvertAndRow(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vals := make([]float32, 3*64)
	for i := range vals {
		vals[i] = float32(r.NormFloat64())
	}
	for _, d := range []DType{F32, F16, BF16, Q8_0} {
		tn, err := NewTensor("w", d, []int{3, 64}, vals)
		if err != nil {
			t.Fatal(err)
		}
		if err := tn.Check(); err != nil {
			t.Fatal(err)
		}
		got := tn.Float32s()
		tol := map[DType]float64{F32: 0, F16: 1e-3, BF16: 8e-3, Q8_0: 0.02}[d]
		for i := range vals {
			if math.Abs(float64(got[i]-vals[i])) > tol*math.Max(1, math.Abs(float64(vals[i]))) {
				t.Fatalf("%v: value %d: %v -> %v", d, i, vals[i], got[i])
			}
		}
		row := tn.Row(2, make([]float32, 64))
		for j := range row {
			if row[j] != got[128+j] {
				t.Fatalf("%v: Row(2)[%d] = %v, Float32s has %v", d, j, row[j], got[128+j])
			}
		}
		back, err := tn.Convert(F32)
		if err != nil {
			t.Fatal(err)
		}
		again, err := back.Convert(d)
		if err != nil {
			t.Fatal(err)
		}
		if string(again.Data) != string(tn.Data) {
			t.Errorf("%v -> f32 -> %v is not the identity", d, d)
		}
	}
	if _, err := NewTensor("odd", Q8_0, []int{2, 48}, make([]float32, 96)); err == nil {
		t.Error("q8_0 with 48 columns: want an error")
	}
	if _, err := NewTensor("n", F32, []int{2, 3}, make([]float32, 5)); err == nil {
		t.Error("wrong value count: want an error")
	}
	bad := &Tensor{Name: "short", DType: F16, Shape: []int{4}, Data: make([]byte, 7)}
	if err := bad.Check(); err == nil {
		t.Error("short data: want an error")
	}
}
