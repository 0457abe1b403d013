package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func randTensor(t testing.TB, name string, d DType, shape []int, seed uint64) *Tensor {
	t.Helper()
	n := 1
	for _, s := range shape {
		n *= s
	}
	vals := make([]float32, n)
	fillRandom(vals, randInit{std: 1}, newTestPCG(seed))
	tn, err := NewTensor(name, d, shape, vals)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func sameTensor(t testing.TB, what string, got, want *Tensor) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: missing", what)
	}
	if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("%s: got %v %v (%d bytes), want %v %v (%d bytes), or the data differ", what,
			got.DType, got.Shape, len(got.Data), want.DType, want.Shape, len(want.Data))
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ts := []*Tensor{
		randTensor(t, "a.f32", F32, []int{3, 5}, 1),
		randTensor(t, "b.f16", F16, []int{7}, 2),
		randTensor(t, "c.bf16", BF16, []int{2, 3, 4}, 3),
		randTensor(t, "d.scalar", F32, nil, 4),
	}
	p := filepath.Join(dir, "x.safetensors")
	if err := WriteSafetensors(p, ts, map[string]string{"note": "hi"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	hlen := binary.LittleEndian.Uint64(raw)
	if (8+hlen)%8 != 0 {
		t.Errorf("data starts at %d, not 8-aligned", 8+hlen)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+hlen], &hdr); err != nil {
		t.Fatal(err)
	}
	if string(hdr["__metadata__"]) != `{"format":"pt","note":"hi"}` {
		t.Errorf("__metadata__ = %s", hdr["__metadata__"])
	}
	if string(hdr["a.f32"]) != `{"dtype":"F32","shape":[3,5],"data_offsets":[0,60]}` {
		t.Errorf("a.f32 entry = %s", hdr["a.f32"])
	}
	s, err := ReadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Tensors) != len(ts) {
		t.Fatalf("read %d tensors, want %d", len(s.Tensors), len(ts))
	}
	for _, want := range ts {
		sameTensor(t, want.Name, s.Tensors[want.Name], want)
	}
	if s.Metadata["format"] != "pt" || s.Source["a.f32"] != p {
		t.Errorf("metadata %v, source %q", s.Metadata, s.Source["a.f32"])
	}
	if err := WriteSafetensors(filepath.Join(dir, "q.safetensors"),
		[]*Tensor{randTensor(t, "q", Q8_0, []int{1, 32}, 5)}, nil); err == nil {
		t.Error("writing q8_0 to safetensors: want an error")
	}
}

func TestSafetensorsSharded(t *testing.T) {
	dir := t.TempDir()
	a, b, c := randTensor(t, "a", F32, []int{4}, 1), randTensor(t, "b", BF16, []int{2, 2}, 2), randTensor(t,
		"c", F16, []int{3}, 3)
	shard := filepath.Join(dir, "model-00001-of-00002.safetensors")
	if err := WriteSafetensors(shard, []*Tensor{a, b}, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteSafetensors(filepath.Join(dir, "model-00002-of-00002.safetensors"), []*Tensor{c}, nil); err != nil {
		t.Fatal(err)
	}
	index := func(m map[string]string) {
		j, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 30}, "weight_map": m})
		os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), j, 0o644)
	}
	index(map[string]string{"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
		"c": "model-00002-of-00002.safetensors"})
	s, err := ReadSafetensorsDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sameTensor(t, "a", s.Tensors["a"], a)
	sameTensor(t, "b", s.Tensors["b"], b)
	sameTensor(t, "c", s.Tensors["c"], c)
	if !strings.HasSuffix(s.Source["c"], "model-00002-of-00002.safetensors") {
		t.Errorf("source of c: %q", s.Source["c"])
	}
	s.Close()

	index(map[string]string{"a": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
		"c": "model-00002-of-00002.safetensors"})
	if _, err := ReadSafetensorsDir(dir); err == nil || !strings.Contains(err.Error(), "tensor a") {
		t.Errorf("index naming the wrong shard: got %v", err)
	}
	index(map[string]string{"a": "../model-00001-of-00002.safetensors"})
	if _, err := ReadSafetensorsDir(dir); err == nil || !strings.Contains(err.Error(), "bad shard") {
		t.Errorf("shard outside the directory: got %v", err)
	}
	index(map[string]string{"a": "model-00001-of-00002.safetensors", "z": "missing.safetensors"})
	if _, err := ReadSafetensorsDir(dir); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("missing shard: got %v", err)
	}
}

// stFile builds a safetensors file from a raw header and data.
func stFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestSafetensorsBadFiles(t *testing.T) {
	good := stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))
	if _, _, err := ParseSafetensors("ok", good); err != nil {
		t.Fatalf("the good file fails: %v", err)
	}
	// Metadata values that are not strings are dropped, not fatal.
	_, meta, err := ParseSafetensors("ok",
		stFile(`{"__metadata__":{"format":"pt","n":5},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`,
			make([]byte, 8)))
	if err != nil || len(meta) != 1 || meta["format"] != "pt" {
		t.Errorf("loose metadata: %v %v", meta, err)
	}
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "too short", nil},
		{"header length past the end", "exceeds the file size",
			append(binary.LittleEndian.AppendUint64(nil, 1<<40), '{')},
		{"not json", "not a JSON object", stFile(`GGUF....`, nil)},
		{"bad json", "header", stFile(`{"w":`, nil)},
		{"metadata not an object", "__metadata__", stFile(`{"__metadata__":[1]}`, nil)},
		{"unsupported dtype", `tensor w has unsupported dtype "I64"`,
			stFile(`{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"out of bounds", "tensor w: data_offsets [0, 16] out of bounds",
			stFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8))},
		{"negative offset", "out of bounds", stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`,
			make([]byte, 8))},
		{"size mismatch", "tensor w: F32 [3] needs 12 bytes",
			stFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"bad shape", "tensor w has bad shape",
			stFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"huge shape", "tensor w",
			stFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"offsets count", "data_offsets has 1 values",
			stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}`, make([]byte, 8))},
	}
	for _, c := range cases {
		_, _, err := ParseSafetensors("f.safetensors", c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.safetensors") {
			t.Errorf("%s: got %v, want an error naming the file and saying %q", c.name, err, c.want)
		}
	}
	// Every truncation of a good file fails cleanly.
	for i := 0; i < len(good); i++ {
		if _, _, err := ParseSafetensors("t", good[:i]); err == nil {
			t.Errorf("truncated to %d bytes: no error", i)
		}
	}
}
