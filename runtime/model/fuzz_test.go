package model

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// microConfigs are the smallest models of each kind, for fuzz seeds.
func microConfigs(t testing.TB) map[string]*Config {
	out := map[string]*Config{}
	for _, name := range []string{"tiny", "tiny-llama", "tiny-qwen2"} {
		c := tinyConfig(t, name)
		c.HiddenSize, c.NumLayers, c.NumHeads, c.NumKVHeads, c.HeadDim, c.FFNSize, c.VocabSize = 32, 1, 2, 1, 16, 32, 8
		out[name] = c
	}
	return out
}

// fuzzSeeds returns small valid files: GGUF ones and safetensors ones, by name.
func fuzzSeeds(t testing.TB) (gguf, st map[string][]byte) {
	gguf, st = map[string][]byte{"handmade": handmadeGGUF()}, map[string][]byte{}
	dir := t.TempDir()
	keep := map[string]bool{"tiny-q8_0": true, "tiny-llama-q8_0": true, "tiny-qwen2-q8_0": true,
		"tiny-llama-f16": true, "tiny-qwen2-bf16": true, "tiny-f16": true, "tiny-qwen2-f32": true}
	for name, cfg := range microConfigs(t) {
		for _, d := range []DType{F32, F16, BF16, Q8_0} {
			key := name + "-" + d.String()
			if !keep[key] {
				continue
			}
			w, err := NewRandom(cfg, d, 1)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "m.gguf")
			if err := WriteGGUF(p, cfg, w, testVocab(8), name); err != nil {
				t.Fatal(err)
			}
			if d != F32 {
				gguf[key], _ = os.ReadFile(p)
			}
			if d == Q8_0 || name == "tiny-llama" {
				continue
			}
			var ts []*Tensor
			for _, s := range slots(cfg, w) {
				c := **s.dst
				c.Name = s.hf
				ts = append(ts, &c)
			}
			var buf bytes.Buffer
			if err := EncodeSafetensors(&buf, ts, nil); err != nil {
				t.Fatal(err)
			}
			st[key] = buf.Bytes()
		}
	}
	var buf bytes.Buffer
	if err := EncodeSafetensors(&buf, []*Tensor{randTensor(t, "a", F32, []int{2, 3}, 1),
		randTensor(t, "b", F16, []int{3}, 2),
		randTensor(t, "c", BF16, []int{1, 1, 2}, 3), randTensor(t, "s", F32, nil,
			4)}, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	st["dtypes"] = buf.Bytes()
	return gguf, st
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/*/ when ARBOR_WRITE_FUZZ_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("ARBOR_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set ARBOR_WRITE_FUZZ_CORPUS=1 to rewrite the fuzz seed corpus")
	}
	gguf, st := fuzzSeeds(t)
	for fuzzer, seeds := range map[string]map[string][]byte{"FuzzGGUF": gguf, "FuzzSafetensors": st} {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The committed seeds are valid files (so the fuzzers start from files that parse).
func TestFuzzCorpusValid(t *testing.T) {
	for _, fuzzer := range []string{"FuzzGGUF", "FuzzSafetensors"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", fuzzer, "seed-*"))
		if len(files) < 4 {
			t.Fatalf("%s: %d seed files", fuzzer, len(files))
		}
		for _, p := range files {
			raw, _ := os.ReadFile(p)
			s := strings.TrimPrefix(string(raw), "go test fuzz v1\n[]byte(")
			s = strings.TrimSuffix(strings.TrimSpace(s), ")")
			data, err := strconv.Unquote(s)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if fuzzer == "FuzzGGUF" {
				f, err := ParseGGUF(p, []byte(data))
				if err != nil {
					t.Errorf("%s: %v", p, err)
				} else if !strings.HasSuffix(p, "handmade") {
					if _, err := ModelFromGGUF(p, f); err != nil {
						t.Errorf("%s: %v", p, err)
					}
				}
			} else if _, _, err := ParseSafetensors(p, []byte(data)); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
	}
}

// fuzzMaxValues bounds how much a fuzz input may make us decode.
const fuzzMaxValues = 1 << 22

func FuzzGGUF(f *testing.F) {
	f.Add(handmadeGGUF())
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGGUF("fuzz.gguf", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.gguf") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		n := 0
		for _, tn := range g.Tensors {
			if err := tn.Check(); err != nil {
				t.Fatalf("parsed an ill-formed tensor: %v", err)
			}
			if n += tn.NumElements(); n < fuzzMaxValues {
				tn.Float32s()
			}
		}
		if m, err := ModelFromGGUF("fuzz.gguf", g); err == nil {
			if err := m.Weights.Check(&m.Config); err != nil {
				t.Fatalf("ModelFromGGUF returned weights that fail Check: %v", err)
			}
		}
		// What parses re-encodes, and re-encoding is stable.
		var b1, b2 bytes.Buffer
		if err := EncodeGGUF(&b1, g.Metadata, g.Tensors); err != nil {
			t.Fatalf("re-encoding a parsed file: %v", err)
		}
		g2, err := ParseGGUF("again", b1.Bytes())
		if err != nil {
			t.Fatalf("re-parsing: %v", err)
		}
		if err := EncodeGGUF(&b2, g2.Metadata, g2.Tensors); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatal("encoding is not stable")
		}
	})
}

func FuzzSafetensors(f *testing.F) {
	f.Add(stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, meta, err := ParseSafetensors("fuzz.safetensors", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.safetensors") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		names := make([]string, 0, len(ts))
		n := 0
		for name, tn := range ts {
			if err := tn.Check(); err != nil {
				t.Fatalf("parsed an ill-formed tensor: %v", err)
			}
			if n += tn.NumElements(); n < fuzzMaxValues {
				tn.Float32s()
			}
			names = append(names, name)
		}
		sort.Strings(names)
		list := make([]*Tensor, len(names))
		for i, name := range names {
			list[i] = ts[name]
		}
		var buf bytes.Buffer
		if err := EncodeSafetensors(&buf, list, meta); err != nil {
			t.Fatalf("re-encoding a parsed file: %v", err)
		}
		ts2, _, err := ParseSafetensors("again", buf.Bytes())
		if err != nil {
			t.Fatalf("re-parsing: %v", err)
		}
		for name, tn := range ts {
			if got := ts2[name]; got == nil || got.DType != tn.DType || !slices.Equal(got.Shape, tn.Shape) ||
				!bytes.Equal(got.Data, tn.Data) {
				t.Fatal(fmt.Sprintf("tensor %s changed in the round trip", name))
			}
		}
	})
}
