package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// rawBuf builds GGUF bytes by hand, following gguf.md, independently of the writer.
type rawBuf struct{ bytes.Buffer }

func (b *rawBuf) u32(v uint32) *rawBuf { binary.Write(b, binary.LittleEndian, v); return b }
func (b *rawBuf) u64(v uint64) *rawBuf { binary.Write(b, binary.LittleEndian, v); return b }
func (b *rawBuf) str(s string) *rawBuf { b.u64(uint64(len(s))); b.WriteString(s); return b }
func (b *rawBuf) pad(a int) *rawBuf {
	for b.Len()%a != 0 {
		b.WriteByte(0)
	}
	return b
}

// handmadeGGUF is a file with two metadata entries and one f32 tensor of ne = [4, 2] (two rows
// of four), whose data is 0..7.
func handmadeGGUF() []byte {
	var b rawBuf
	b.WriteString("GGUF")
	b.u32(3).u64(1).u64(2)
	b.str("general.architecture").u32(ggufString).str("llama")
	b.str("names").u32(ggufArray).u32(ggufString).u64(2).str("a").str("bc")
	b.str("w").u32(2).u64(4).u64(2).u32(ggmlF32).u64(0)
	b.pad(32)
	for i := 0; i < 8; i++ {
		binary.Write(&b, binary.LittleEndian, float32(i))
	}
	return b.Bytes()
}

func TestGGUFHandmade(t *testing.T) {
	f, err := ParseGGUF("h.gguf", handmadeGGUF())
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 32 || len(f.Metadata) != 2 || len(f.Tensors) != 1 {
		t.Fatalf("parsed %+v", f)
	}
	if v, _ := f.Get("names"); !reflect.DeepEqual(v, []string{"a", "bc"}) {
		t.Errorf("names = %#v", v)
	}
	w := f.Tensor("w")
	if !slices.Equal(w.Shape, []int{2, 4}) {
		t.Errorf("shape %v, want [2 4] (the file lists the innermost dimension first)", w.Shape)
	}
	if got := w.Row(1, make([]float32, 4)); !reflect.DeepEqual(got, []float32{4, 5, 6, 7}) {
		t.Errorf("row 1 = %v", got)
	}
	// The writer produces the same bytes from the parsed file.
	p := filepath.Join(t.TempDir(), "h.gguf")
	if err := WriteGGUFFile(p, f.Metadata, f.Tensors); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, handmadeGGUF()) {
		t.Errorf("rewritten file differs:\n%x\n%x", b, handmadeGGUF())
	}
}

func TestGGUFMetadataAndTensorsRoundTrip(t *testing.T) {
	kvs := []GGUFKV{
		{"general.alignment", uint32(64)},
		{"u8", uint8(200)}, {"i8", int8(-100)}, {"u16", uint16(60000)}, {"i16", int16(-30000)},
		{"u32", uint32(4000000000)}, {"i32", int32(-2000000000)}, {"f32", float32(1.5)}, {"bool", true},
		{"str", "héllo"}, {"empty", ""}, {"u64", uint64(1) << 63}, {"i64", int64(-1) << 62}, {"f64", math.Pi},
		{"a.u8", []uint8{1, 2, 3}}, {"a.i8", []int8{-1}}, {"a.u16", []uint16{7}}, {"a.i16", []int16{-7}},
		{"a.u32", []uint32{1, 2}}, {"a.i32", []int32{-5, 6}}, {"a.f32", []float32{0.25, -1}},
		{"a.bool", []bool{true, false}},
		{"a.str", []string{"x", "", "yz"}}, {"a.u64", []uint64{9}}, {"a.i64", []int64{-9}}, {"a.f64", []float64{2.5}},
		{"a.empty", []string{}}, {"a.nested", []any{[]int32{1, 2}, []string{"p"}, []any{[]uint8{3}}}},
	}
	tensors := []*Tensor{
		randTensor(t, "t.f32", F32, []int{3}, 1),
		randTensor(t, "t.f16", F16, []int{2, 3}, 2),
		randTensor(t, "t.bf16", BF16, []int{2, 1, 5}, 3),
		randTensor(t, "t.q8", Q8_0, []int{2, 1, 3, 64}, 4),
	}
	p := filepath.Join(t.TempDir(), "x.gguf")
	if err := WriteGGUFFile(p, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	f, release, err := ReadGGUF(p)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if !reflect.DeepEqual(f.Metadata, kvs) {
		t.Errorf("metadata:\n got %#v\nwant %#v", f.Metadata, kvs)
	}
	if f.Alignment != 64 {
		t.Errorf("alignment %d", f.Alignment)
	}
	raw, _ := os.ReadFile(p)
	for i, want := range tensors {
		got := f.Tensors[i]
		sameTensor(t, want.Name, got, want)
		// Data is 64-aligned from the start of the file (and of the mapping).
		if off := uintptr(unsafe.Pointer(&got.Data[0])) - uintptr(unsafe.Pointer(&f.Tensors[0].Data[0])); off%64 != 0 {
			t.Errorf("%s at offset %d from the first tensor, not 64-aligned", want.Name, off)
		}
	}
	if len(raw)%64 != 0 {
		t.Errorf("file size %d is not padded to the alignment", len(raw))
	}
	if err := WriteGGUFFile(p, []GGUFKV{{"bad", 3}}, nil); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("an int value: got %v", err)
	}
	if err := WriteGGUFFile(p, []GGUFKV{{"general.alignment", uint32(48)}}, nil); err == nil {
		t.Error("alignment 48: want an error")
	}
}

func testVocab(n int) *tokenizer.GGUFVocab {
	v := &tokenizer.GGUFVocab{Model: "gpt2", Pre: "qwen2", BOS: -1, EOS: 3, UNK: -1, PAD: 4, EOT: 7,
		ChatTemplate: "{% for m in messages %}{{ m.content }}{% endfor %}", AddBOS: false}
	for i := 0; i < n; i++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("tok%d", i))
		v.Scores = append(v.Scores, -float32(i))
		v.TokenTypes = append(v.TokenTypes, 1)
	}
	v.TokenTypes[3] = 3
	v.Merges = []string{"t o", "to k"}
	return v
}

// ggufExpectedConfig is what reading back a GGUF written from cfg gives.
func ggufExpectedConfig(cfg *Config, v *tokenizer.GGUFVocab) Config {
	want := *cfg
	if want.Arch == ArchMistral {
		want.Arch = ArchLlama
	}
	if want.RopeScaling != nil {
		want.RopeFactors = RopeFreqFactors(cfg)
		want.RopeScaling = nil
	}
	want.EOS = nil
	if v != nil {
		want.EOS = []int32{v.EOS, v.EOT}
	}
	return want
}

func TestGGUFModelRoundTrip(t *testing.T) {
	for _, name := range []string{"tiny", "tiny-llama", "tiny-qwen2", "mistral"} {
		for _, d := range []DType{F32, F16, BF16, Q8_0} {
			var cfg *Config
			if name == "mistral" {
				cfg = tinyConfig(t, "tiny-llama")
				cfg.Arch, cfg.RopeScaling, cfg.SlidingWindow = ArchMistral, nil, 256
			} else {
				cfg = tinyConfig(t, name)
			}
			w, err := NewRandom(cfg, d, 3)
			if err != nil {
				t.Fatal(err)
			}
			vocab := testVocab(500)
			p := filepath.Join(t.TempDir(), name+".gguf")
			if err := WriteGGUF(p, cfg, w, vocab, "test "+name); err != nil {
				t.Fatalf("%s %v: %v", name, d, err)
			}
			m, err := LoadWeights(p)
			if err != nil {
				t.Fatalf("%s %v: %v", name, d, err)
			}
			if want := ggufExpectedConfig(cfg, vocab); !reflect.DeepEqual(m.Config, want) {
				t.Errorf("%s %v: config\n got %+v\nwant %+v", name, d, m.Config, want)
			}
			sameWeights(t, cfg, &m.Weights, w)
			// The vocabulary comes back padded to the model's size.
			want := testVocab(500)
			for i := 500; i < cfg.VocabSize; i++ {
				want.Tokens = append(want.Tokens, fmt.Sprintf("[PAD%d]", i))
				want.Scores = append(want.Scores, 0)
				want.TokenTypes = append(want.TokenTypes, 5)
			}
			if !reflect.DeepEqual(m.Vocab, want) {
				t.Errorf("%s %v: vocab\n got %+v\nwant %+v", name, d, m.Vocab, want)
			}
			f, release, err := ReadGGUF(p)
			if err != nil {
				t.Fatal(err)
			}
			for key, want := range map[string]any{"general.architecture": ggufExpectedConfig(cfg, nil).Arch,
				"general.name": "test " + name, "general.file_type": ggufFileType(d),
				"general.quantization_version": uint32(2), "general.alignment": uint32(32)} {
				if got, _ := f.Get(key); got != want {
					t.Errorf("%s: %s = %#v, want %#v", name, key, got, want)
				}
			}
			// Matrices keep their dtype, 1-D tensors are f32, token_embd/output follow the dtype.
			for _, tn := range f.Tensors {
				wantD := d
				if len(tn.Shape) == 1 {
					wantD = F32
				}
				if tn.DType != wantD {
					t.Errorf("%s: %s is %v, want %v", name, tn.Name, tn.DType, wantD)
				}
			}
			if (f.Tensor("rope_freqs.weight") != nil) != (cfg.RopeScaling != nil) {
				t.Errorf("%s: rope_freqs.weight present = %v", name, f.Tensor("rope_freqs.weight") != nil)
			}
			if (f.Tensor("output.weight") == nil) != cfg.TieEmbeddings {
				t.Errorf("%s: output.weight present with tie = %v", name, cfg.TieEmbeddings)
			}
			release()
			m.Close()
		}
	}
}

// GGUF of the llama architecture stores Q and K rows interleaved per head; qwen does not.
func TestGGUFLlamaPermutesQK(t *testing.T) {
	for _, name := range []string{"tiny-llama", "tiny"} {
		cfg := tinyConfig(t, name)
		w, _ := NewRandom(cfg, Q8_0, 8)
		p := filepath.Join(t.TempDir(), "m.gguf")
		if err := WriteGGUF(p, cfg, w, nil, ""); err != nil {
			t.Fatal(err)
		}
		f, release, err := ReadGGUF(p)
		if err != nil {
			t.Fatal(err)
		}
		D := cfg.HeadDim
		for _, c := range []struct {
			file string
			hf   *Tensor
		}{{"blk.1.attn_q.weight", w.Layers[1].Q}, {"blk.1.attn_k.weight",
			w.Layers[1].K}, {"blk.0.attn_v.weight", w.Layers[0].V}} {
			g := f.Tensor(c.file)
			rb := g.DType.RowBytes(g.Cols())
			permuted := cfg.Arch == ArchLlama && !strings.Contains(c.file, "attn_v")
			for r := 0; r < g.Rows(); r++ {
				src := r
				if permuted { // GGUF row h*D + 2i + s holds HF row h*D + s*D/2 + i
					h, j := r/D, r%D
					src = h*D + (j%2)*(D/2) + j/2
				}
				if !bytes.Equal(g.Data[r*rb:(r+1)*rb], c.hf.Data[src*rb:(src+1)*rb]) {
					t.Fatalf("%s %s: file row %d is not HF row %d", name, c.file, r, src)
				}
			}
		}
		release()
	}
	// permuteRoPE there and back is the identity, for matrices and vectors.
	q := randTensor(t, "q", Q8_0, []int{6 * 8, 64}, 1)
	for _, x := range []*Tensor{q, randTensor(t, "b", F32, []int{6 * 8}, 2),
		randTensor(t, "b16", BF16, []int{6 * 8}, 3)} {
		g, err := permuteRoPE(x, 6, true)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(g.Data, x.Data) {
			t.Error("the permutation changed nothing")
		}
		back, _ := permuteRoPE(g, 6, false)
		sameTensor(t, x.Name, back, x)
	}
	if _, err := permuteRoPE(q, 5, true); err == nil {
		t.Error("48 rows into 5 heads: want an error")
	}
}

// Rotating the permuted rows' output with interleaved RoPE equals rotating the HF rows' output
// with rotate-half RoPE (up to the same permutation), so attention scores are the same.
func TestGGUFPermutationMatchesRoPE(t *testing.T) {
	cfg := tinyConfig(t, "tiny-llama")
	w, _ := NewRandom(cfg, F32, 4)
	inv := cfg.RopeInvFreq()
	x := make([]float32, cfg.HiddenSize)
	fillRandom(x, randInit{std: 1}, newTestPCG(9))
	xv := make([]float64, len(x))
	for i, v := range x {
		xv[i] = float64(v)
	}
	r := newRef(cfg, w)
	D := cfg.HeadDim
	rotate := func(tn *Tensor, heads, pos int, interleaved bool) []float64 {
		y := r.matvec(tn, nil, xv)
		for h := 0; h < heads; h++ {
			if interleaved {
				ropeInterleaved(y[h*D:(h+1)*D], inv, pos)
			} else {
				ropeHalf(y[h*D:(h+1)*D], inv, pos)
			}
		}
		return y
	}
	l := &w.Layers[0]
	qg, _ := permuteRoPE(l.Q, cfg.NumHeads, true)
	kg, _ := permuteRoPE(l.K, cfg.NumKVHeads, true)
	for _, pos := range []int{0, 1, 17, 1000} {
		qh, qi := rotate(l.Q, cfg.NumHeads, pos, false), rotate(qg, cfg.NumHeads, pos, true)
		kh, ki := rotate(l.K, cfg.NumKVHeads, pos+3, false), rotate(kg, cfg.NumKVHeads, pos+3, true)
		// Un-permute the interleaved result: it must equal the rotate-half one.
		for h := 0; h < cfg.NumHeads; h++ {
			for j := 0; j < D; j++ {
				hfRow := h*D + (j%2)*(D/2) + j/2
				if math.Abs(qi[h*D+j]-qh[hfRow]) > 1e-9 {
					t.Fatalf("pos %d: q[%d] interleaved %v, rotate-half %v", pos, hfRow, qi[h*D+j], qh[hfRow])
				}
			}
		}
		// And the scores q·k agree head by head.
		group := cfg.NumHeads / cfg.NumKVHeads
		for h := 0; h < cfg.NumHeads; h++ {
			var s1, s2 float64
			kv := h / group
			for j := 0; j < D; j++ {
				s1 += qh[h*D+j] * kh[kv*D+j]
				s2 += qi[h*D+j] * ki[kv*D+j]
			}
			if math.Abs(s1-s2) > 1e-9*math.Max(1, math.Abs(s1)) {
				t.Fatalf("pos %d head %d: score %v vs %v", pos, h, s1, s2)
			}
		}
	}
	// And without the permutation they do not agree (the test can fail).
	qi := rotate(l.Q, cfg.NumHeads, 5, true)
	qh := rotate(l.Q, cfg.NumHeads, 5, false)
	if reflect.DeepEqual(qi, qh) {
		t.Error("interleaved and rotate-half RoPE agree on unpermuted rows")
	}
}

func TestRopeFreqFactors(t *testing.T) {
	for _, name := range []string{"tiny-llama", "llama-3.2-1b"} {
		cfg := tinyConfig(t, name)
		fac := RopeFreqFactors(cfg)
		if len(fac) != cfg.HeadDim/2 {
			t.Fatalf("%d factors", len(fac))
		}
		// llama.cpp's converter: 1 above the high-frequency wavelength, factor below the low one,
		// 1/((1-smooth)/factor + smooth) between.
		s := cfg.RopeScaling
		var ones, fulls, mids int
		for i, f := range fac {
			freq := 1 / math.Pow(cfg.RopeTheta, float64(2*i)/float64(cfg.HeadDim))
			wl := 2 * math.Pi / freq
			var want float64
			switch {
			case wl < float64(s.OriginalMaxPositions)/s.HighFreqFactor:
				want, ones = 1, ones+1
			case wl > float64(s.OriginalMaxPositions)/s.LowFreqFactor:
				want, fulls = s.Factor, fulls+1
			default:
				sm := (float64(s.OriginalMaxPositions)/wl - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
				want, mids = 1/((1-sm)/s.Factor+sm), mids+1
			}
			if math.Abs(float64(f)-want) > 1e-6*want {
				t.Errorf("%s: factor %d = %v, want %v", name, i, f, want)
			}
		}
		if ones == 0 || fulls == 0 || mids == 0 {
			t.Errorf("%s: the shape does not exercise all three bands (%d %d %d)", name, ones, fulls, mids)
		}
		// A config with the factors gives the same inverse frequencies as the scaled one.
		withF := *cfg
		withF.RopeScaling, withF.RopeFactors = nil, fac
		a, b := cfg.RopeInvFreq(), withF.RopeInvFreq()
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-6*a[i] {
				t.Errorf("%s: inv_freq %d: scaled %v, from factors %v", name, i, a[i], b[i])
			}
		}
	}
	if RopeFreqFactors(tinyConfig(t, "tiny")) != nil {
		t.Error("no scaling: want no factors")
	}
}

func TestWriteGGUFVocabErrors(t *testing.T) {
	cfg := tinyConfig(t, "tiny")
	w, _ := NewRandom(cfg, F16, 1)
	p := filepath.Join(t.TempDir(), "v.gguf")
	v := testVocab(cfg.VocabSize + 1)
	if err := WriteGGUF(p, cfg, w, v, ""); err == nil || !strings.Contains(err.Error(), "more than the model's") {
		t.Errorf("vocabulary larger than the model: got %v", err)
	}
	v = testVocab(10)
	v.Scores = v.Scores[:9]
	if err := WriteGGUF(p, cfg, w, v, ""); err == nil || !strings.Contains(err.Error(), "scores") {
		t.Errorf("short scores: got %v", err)
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("a failed write left a file behind")
	}
}

// handmade builds a one-tensor file like handmadeGGUF with the given tensor type, dims and
// offset, and extra metadata written by kv (counted in nkv).
func handmade(ggmlType uint32, dims []uint64, off uint64, nkv uint64, kv func(b *rawBuf), data int) []byte {
	var b rawBuf
	b.WriteString("GGUF")
	b.u32(3).u64(1).u64(nkv)
	if kv != nil {
		kv(&b)
	}
	b.str("w").u32(uint32(len(dims)))
	for _, d := range dims {
		b.u64(d)
	}
	b.u32(ggmlType).u64(off)
	b.pad(32)
	b.Write(make([]byte, data))
	return b.Bytes()
}

func TestGGUFBadFiles(t *testing.T) {
	good := handmadeGGUF()
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "bad magic", nil},
		{"wrong magic", "bad magic", append([]byte("GGML"), good[4:]...)},
		{"version 1", "unsupported GGUF version 1", append(append([]byte("GGUF"), 1, 0, 0, 0), good[8:]...)},
		{"big-endian", "big-endian", append(append([]byte("GGUF"), 0, 0, 0, 3), good[8:]...)},
		{"tensor out of bounds", "gguf tensor w (32 bytes at offset 32) runs past the end",
			handmade(ggmlF32, []uint64{4, 2}, 32, 0, nil, 32)},
		{"tensor data cut short", "runs past the end", handmade(ggmlF32, []uint64{4, 2}, 0, 0, nil, 31)},
		{"unaligned offset", "not a multiple of the alignment", handmade(ggmlF32, []uint64{4}, 4, 0, nil, 64)},
		{"unsupported type", "tensor w has unsupported type q4_0 (2)", handmade(2, []uint64{32}, 0, 0, nil, 64)},
		{"unknown type", "tensor w has unsupported type unknown (99)", handmade(99, []uint64{32}, 0, 0, nil, 64)},
		{"q8_0 row not whole blocks", "q8_0 needs rows", handmade(ggmlQ8_0, []uint64{16}, 0, 0, nil, 64)},
		{"five dims", "tensor w has 5 dimensions", handmade(ggmlF32, []uint64{1, 1, 1, 1, 1}, 0, 0, nil, 32)},
		{"zero dim", "bad dimension 0", handmade(ggmlF32, []uint64{0}, 0, 0, nil, 32)},
		{"huge dims", "too large", handmade(ggmlF32, []uint64{1 << 30, 1 << 30}, 0, 0, nil, 32)},
		{"huge tensor count", "claims", append(append([]byte("GGUF"), 3, 0, 0, 0),
			binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 1<<62), 0)...)},
		{"huge kv count", "claims", append(append([]byte("GGUF"), 3, 0, 0, 0),
			binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 0), 1<<62)...)},
		{"huge string", "metadata entry 0", handmade(ggmlF32, []uint64{1}, 0, 1,
			func(b *rawBuf) { b.u64(1 << 60) }, 32)},
		{"huge array", "array of 1152921504606846976 values", handmade(ggmlF32, []uint64{1}, 0, 1, func(b *rawBuf) {
			b.str("a").u32(ggufArray).u32(ggufUint32).u64(1 << 60)
		}, 32)},
		{"huge string array", "runs past the end", handmade(ggmlF32, []uint64{1}, 0, 1, func(b *rawBuf) {
			b.str("a").u32(ggufArray).u32(ggufString).u64(1 << 40)
		}, 32)},
		{"deep arrays", "nested deeper", handmade(ggmlF32, []uint64{1}, 0, 1, func(b *rawBuf) {
			b.str("a")
			b.u32(ggufArray)
			for i := 0; i < 6; i++ {
				b.u32(ggufArray).u64(1)
			}
		}, 32)},
		{"unknown value type", "metadata x: unknown value type 13",
			handmade(ggmlF32, []uint64{1}, 0, 1, func(b *rawBuf) { b.str("x").u32(13) }, 32)},
		{"duplicate key", "appears twice", handmade(ggmlF32, []uint64{1}, 0, 2, func(b *rawBuf) {
			b.str("x").u32(ggufBool).WriteByte(1)
			b.str("x").u32(ggufBool).WriteByte(0)
		}, 32)},
		{"bad alignment", "general.alignment", handmade(ggmlF32, []uint64{1}, 0, 1, func(b *rawBuf) {
			b.str("general.alignment").u32(ggufUint32).u32(24)
		}, 32)},
		{"alignment of the wrong type", "general.alignment", handmade(ggmlF32, []uint64{1}, 0, 1, func(b *rawBuf) {
			b.str("general.alignment").u32(ggufUint64).u64(32)
		}, 32)},
	}
	for _, c := range cases {
		_, err := ParseGGUF("bad.gguf", c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.gguf") {
			t.Errorf("%s: got %v, want an error naming the file and saying %q", c.name, err, c.want)
		}
	}
	for i := 0; i < len(good); i++ {
		if _, err := ParseGGUF("t", good[:i]); err == nil {
			t.Errorf("truncated to %d bytes: no error", i)
		}
	}
}

// modelGGUF writes a tiny model and returns the parsed file's metadata and tensors, to build
// broken variants from.
func modelGGUF(t *testing.T, shape string, d DType) ([]GGUFKV, []*Tensor, []byte) {
	t.Helper()
	cfg := tinyConfig(t, shape)
	w, _ := NewRandom(cfg, d, 2)
	p := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteGGUF(p, cfg, w, testVocab(100), "m"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	f, err := ParseGGUF(p, raw)
	if err != nil {
		t.Fatal(err)
	}
	return f.Metadata, f.Tensors, raw
}

func TestGGUFBadModels(t *testing.T) {
	kvs, tensors, raw := modelGGUF(t, "tiny-llama", Q8_0)
	dir := t.TempDir()
	write := func(kvs []GGUFKV, ts []*Tensor) string {
		p := filepath.Join(dir, "bad.gguf")
		if err := WriteGGUFFile(p, kvs, ts); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withoutKey := func(key string) []GGUFKV {
		var out []GGUFKV
		for _, kv := range kvs {
			if kv.Key != key {
				out = append(out, kv)
			}
		}
		return out
	}
	withKey := func(key string, v any) []GGUFKV {
		out := append([]GGUFKV(nil), kvs...)
		for i := range out {
			if out[i].Key == key {
				out[i].Value = v
			}
		}
		return out
	}
	without := func(name string) []*Tensor {
		var out []*Tensor
		for _, x := range tensors {
			if x.Name != name {
				out = append(out, x)
			}
		}
		return out
	}
	replace := func(name string, nt *Tensor) []*Tensor {
		out := append([]*Tensor(nil), tensors...)
		for i := range out {
			if out[i].Name == name {
				out[i] = nt
			}
		}
		return out
	}
	cases := []struct {
		name, want string
		kvs        []GGUFKV
		ts         []*Tensor
	}{
		{"missing tensor", "tensor blk.1.ffn_up.weight is missing", kvs, without("blk.1.ffn_up.weight")},
		{"wrong shape", "tensor blk.0.attn_k.weight has shape [64 64], want [32 64]", kvs,
			replace("blk.0.attn_k.weight", randTensor(t, "blk.0.attn_k.weight", Q8_0, []int{64, 64}, 1))},
		{"missing key", "metadata key llama.block_count is missing", withoutKey("llama.block_count"), tensors},
		{"key of the wrong type", "llama.block_count is a string", withKey("llama.block_count", "2"), tensors},
		{"unsupported architecture", `unsupported general.architecture "gpt2"`,
			withKey("general.architecture", "gpt2"), tensors},
		{"no architecture", "general.architecture is missing", withoutKey("general.architecture"), tensors},
		{"vocab size disagrees", "token_embd.weight has shape [512 64], want [600 64]",
			withKey("llama.vocab_size", uint32(600)), tensors},
		{"bad rope_freqs", "rope_freqs.weight has shape [4]", kvs,
			replace("rope_freqs.weight", randTensor(t, "rope_freqs.weight", F32, []int{4}, 1))},
		{"partial rope", "partial RoPE", withKey("llama.rope.dimension_count", uint32(8)), tensors},
		{"scaling type", "rope.scaling.type", append(append([]GGUFKV(nil), kvs...),
			GGUFKV{"llama.rope.scaling.type", "yarn"}), tensors},
		{"eos out of range", "eos_token_id", withKey("tokenizer.ggml.eos_token_id", uint32(100000)), tensors},
		{"token types short", "token_type has 2 entries", withKey("tokenizer.ggml.token_type", []int32{1, 1}), tensors},
		{"bad heads", "not a multiple", withKey("llama.attention.head_count_kv", uint32(3)), tensors},
	}
	for _, c := range cases {
		p := write(c.kvs, c.ts)
		_, err := LoadWeights(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: got %v, want an error naming the file and saying %q", c.name, err, c.want)
		}
	}
	// A weight of a type Arbor does not read: patch attn_q's type to q4_0 in the raw bytes.
	f, _ := ParseGGUF("m", raw)
	i := bytes.Index(raw, []byte("blk.0.attn_q.weight"))
	typeAt := i + len("blk.0.attn_q.weight") + 4 + 8*2
	if binary.LittleEndian.Uint32(raw[typeAt:]) != ggmlQ8_0 || f == nil {
		t.Fatal("test setup: did not find attn_q's type")
	}
	bad := append([]byte(nil), raw...)
	binary.LittleEndian.PutUint32(bad[typeAt:], 12)
	p := filepath.Join(dir, "q4k.gguf")
	os.WriteFile(p, bad, 0o644)
	if _, err := LoadWeights(p); err == nil || !strings.Contains(err.Error(),
		"blk.0.attn_q.weight has unsupported type q4_K") {
		t.Errorf("q4_K tensor: got %v", err)
	}
	// Truncations of a whole model file fail cleanly (every byte of the header, then a sample).
	p = filepath.Join(dir, "trunc.gguf")
	for n := 0; n < len(raw); n++ {
		if n > 8192 {
			n = min(n+n/8, len(raw)-1)
		}
		if _, err := ParseGGUF("t", raw[:n]); err == nil && n < len(raw)-32 {
			t.Errorf("model truncated to %d of %d bytes parses", n, len(raw))
		}
	}
	os.WriteFile(p, raw[:len(raw)/2], 0o644)
	if _, err := LoadWeights(p); err == nil || !strings.Contains(err.Error(), "runs past the end") {
		t.Errorf("half a model: got %v", err)
	}
	if _, err := Load(p); err == nil {
		t.Error("Load of half a model: want an error")
	}
	// A whole model without tokenizer metadata loads its weights, but Load wants a tokenizer.
	cfg := tinyConfig(t, "tiny")
	w, _ := NewRandom(cfg, F32, 1)
	p = filepath.Join(dir, "novocab.gguf")
	if err := WriteGGUF(p, cfg, w, nil, ""); err != nil {
		t.Fatal(err)
	}
	m, err := LoadWeights(p)
	if err != nil || m.Vocab != nil || m.Config.EOS != nil {
		t.Fatalf("LoadWeights without a vocabulary: %v", err)
	}
	m.Close()
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "no tokenizer.ggml metadata") {
		t.Errorf("Load without a vocabulary: got %v", err)
	}
}
