package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// TensorSet is a set of named tensors read from one or more files. The tensors' Data point into
// mmaps of those files, so they are valid until Close.
type TensorSet struct {
	Tensors map[string]*Tensor
	// Source names the file each tensor came from (for error messages).
	Source map[string]string
	// Metadata is the safetensors __metadata__ (of the first file that has one).
	Metadata map[string]string
	release  []func() error
}

// Close unmaps the files.
func (s *TensorSet) Close() error {
	var errs []error
	for _, r := range s.release {
		errs = append(errs, r())
	}
	s.release = nil
	return errors.Join(errs...)
}

func (s *TensorSet) add(file string, ts map[string]*Tensor) error {
	for name, t := range ts {
		if prev, ok := s.Source[name]; ok {
			return fmt.Errorf("tensor %s is in both %s and %s", name, prev, file)
		}
		s.Tensors[name] = t
		s.Source[name] = file
	}
	return nil
}

func newTensorSet() *TensorSet {
	return &TensorSet{Tensors: map[string]*Tensor{}, Source: map[string]string{}}
}

// safetensors dtype names.
var stDTypes = map[string]DType{"F32": F32, "F16": F16, "BF16": BF16}

func stDTypeName(d DType) (string, error) {
	switch d {
	case F32:
		return "F32", nil
	case F16:
		return "F16", nil
	case BF16:
		return "BF16", nil
	}
	return "", fmt.Errorf("safetensors cannot hold %v (convert to f32, f16 or bf16)", d)
}

type stEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// ParseSafetensors parses the bytes of a safetensors file. The returned tensors' Data alias data.
// file is used in error messages only.
func ParseSafetensors(file string, data []byte) (map[string]*Tensor, map[string]string, error) {
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("%s: not a safetensors file: %d bytes, too short for the header length",
			file, len(data))
	}
	hlen := binary.LittleEndian.Uint64(data)
	if hlen > uint64(len(data)-8) {
		return nil, nil, fmt.Errorf("%s: safetensors header length %d exceeds the file size %d", file, hlen, len(data))
	}
	header := data[8 : 8+hlen]
	body := data[8+hlen:]
	trimmed := bytes.TrimLeft(header, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, fmt.Errorf("%s: not a safetensors file: the header is not a JSON object", file)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: safetensors header: %w", file, err)
	}
	var meta map[string]string
	tensors := make(map[string]*Tensor, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			// The format says string to string; keep the strings of a looser map rather than
			// refuse the weights over it.
			var m map[string]any
			if err := json.Unmarshal(msg, &m); err != nil {
				return nil, nil, fmt.Errorf("%s: safetensors __metadata__: %w", file, err)
			}
			meta = map[string]string{}
			for k, v := range m {
				if s, ok := v.(string); ok {
					meta[k] = s
				}
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %s: %w", file, name, err)
		}
		dt, ok := stDTypes[e.DType]
		if !ok {
			return nil, nil, fmt.Errorf("%s: tensor %s has unsupported dtype %q (want F32, F16 or BF16)",
				file, name, e.DType)
		}
		shape := make([]int, len(e.Shape))
		for i, s := range e.Shape {
			if s <= 0 || s > maxElements {
				return nil, nil, fmt.Errorf("%s: tensor %s has bad shape %v", file, name, e.Shape)
			}
			shape[i] = int(s)
		}
		if _, err := checkShape(name, dt, shape); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		t := &Tensor{Name: name, DType: dt, Shape: shape}
		if len(e.DataOffsets) != 2 {
			return nil, nil, fmt.Errorf("%s: tensor %s: data_offsets has %d values, want 2", file, name,
				len(e.DataOffsets))
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b || end > int64(len(body)) {
			return nil, nil, fmt.Errorf("%s: tensor %s: data_offsets [%d, %d] out of bounds (%d bytes of "+
				"data)", file, name, b, end, len(body))
		}
		if end-b != int64(t.ByteSize()) {
			return nil, nil, fmt.Errorf("%s: tensor %s: %s %v needs %d bytes, data_offsets give %d", file,
				name, e.DType, e.Shape, t.ByteSize(), end-b)
		}
		t.Data = body[b:end:end]
		tensors[name] = t
	}
	return tensors, meta, nil
}

// ReadSafetensors maps one safetensors file.
func ReadSafetensors(path string) (*TensorSet, error) {
	s := newTensorSet()
	if err := s.readFile(path); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *TensorSet) readFile(path string) error {
	data, release, err := mapFile(path)
	if err != nil {
		return fmt.Errorf("open safetensors: %w", err)
	}
	s.release = append(s.release, release)
	ts, meta, err := ParseSafetensors(path, data)
	if err != nil {
		return err
	}
	if s.Metadata == nil {
		s.Metadata = meta
	}
	return s.add(path, ts)
}

// ReadSafetensorsDir maps a Hugging Face directory's weights: model.safetensors.index.json and
// the shards it names when the index is there, else model.safetensors.
func ReadSafetensorsDir(dir string) (*TensorSet, error) {
	indexPath := filepath.Join(dir, "model.safetensors.index.json")
	idx, err := os.ReadFile(indexPath)
	if errors.Is(err, os.ErrNotExist) {
		return ReadSafetensors(filepath.Join(dir, "model.safetensors"))
	}
	if err != nil {
		return nil, err
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(idx, &index); err != nil {
		return nil, fmt.Errorf("%s: %w", indexPath, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: empty weight_map", indexPath)
	}
	shards := map[string]bool{}
	for name, f := range index.WeightMap {
		if f == "" || f != filepath.Base(f) || strings.ContainsAny(f, `/\`) || f == "." || f == ".." {
			return nil, fmt.Errorf("%s: tensor %s maps to bad shard file name %q", indexPath, name, f)
		}
		shards[f] = true
	}
	names := make([]string, 0, len(shards))
	for f := range shards {
		names = append(names, f)
	}
	sort.Strings(names)
	s := newTensorSet()
	for _, f := range names {
		if err := s.readFile(filepath.Join(dir, f)); err != nil {
			s.Close()
			return nil, err
		}
	}
	for name, f := range index.WeightMap {
		if got, ok := s.Source[name]; !ok || filepath.Base(got) != f {
			s.Close()
			return nil, fmt.Errorf("%s: tensor %s is listed in shard %s but not found there", indexPath, name, f)
		}
	}
	return s, nil
}

// WriteSafetensors writes tensors (in the given order) to path, with __metadata__ {"format":
// "pt"} plus metadata. The header is padded with spaces so that the data starts 8-aligned.
func WriteSafetensors(path string, tensors []*Tensor, metadata map[string]string) error {
	hdr, err := safetensorsHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeFile(path, func(w io.Writer) error { return writeSafetensorsBody(w, hdr, tensors) })
}

// EncodeSafetensors writes a safetensors file to w, as WriteSafetensors does.
func EncodeSafetensors(w io.Writer, tensors []*Tensor, metadata map[string]string) error {
	hdr, err := safetensorsHeader(tensors, metadata)
	if err != nil {
		return err
	}
	return writeSafetensorsBody(w, hdr, tensors)
}

func writeSafetensorsBody(w io.Writer, hdr []byte, tensors []*Tensor) error {
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(hdr)))
	if _, err := w.Write(lenb[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// safetensorsHeader renders the JSON header, padded to make the data 8-aligned.
func safetensorsHeader(tensors []*Tensor, metadata map[string]string) ([]byte, error) {
	meta := map[string]string{"format": "pt"}
	for k, v := range metadata {
		meta[k] = v
	}
	var hdr bytes.Buffer
	hdr.WriteString(`{"__metadata__":`)
	mb, err := json.Marshal(meta) // map keys come out sorted: deterministic
	if err != nil {
		return nil, err
	}
	hdr.Write(mb)
	var off int64
	seen := map[string]bool{}
	for _, t := range tensors {
		if err := t.Check(); err != nil {
			return nil, err
		}
		if seen[t.Name] || t.Name == "__metadata__" {
			return nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		dt, err := stDTypeName(t.DType)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
		}
		shape := make([]int64, len(t.Shape))
		for i, s := range t.Shape {
			shape[i] = int64(s)
		}
		e, err := json.Marshal(stEntry{DType: dt, Shape: shape, DataOffsets: []int64{off, off + int64(len(t.Data))}})
		if err != nil {
			return nil, err
		}
		nb, err := json.Marshal(t.Name)
		if err != nil {
			return nil, err
		}
		hdr.WriteByte(',')
		hdr.Write(nb)
		hdr.WriteByte(':')
		hdr.Write(e)
		off += int64(len(t.Data))
	}
	hdr.WriteByte('}')
	for (8+hdr.Len())%8 != 0 {
		hdr.WriteByte(' ')
	}
	return hdr.Bytes(), nil
}
