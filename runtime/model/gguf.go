package model

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// GGUF metadata value types (gguf.md).
const (
	ggufUint8   = 0
	ggufInt8    = 1
	ggufUint16  = 2
	ggufInt16   = 3
	ggufUint32  = 4
	ggufInt32   = 5
	ggufFloat32 = 6
	ggufBool    = 7
	ggufString  = 8
	ggufArray   = 9
	ggufUint64  = 10
	ggufInt64   = 11
	ggufFloat64 = 12
)

// ggml tensor types that Arbor reads and writes.
const (
	ggmlF32  = 0
	ggmlF16  = 1
	ggmlQ8_0 = 8
	ggmlBF16 = 30
)

var ggmlTypeNames = map[uint32]string{0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1",
	8: "q8_0", 9: "q8_1", 10: "q2_K", 11: "q3_K", 12: "q4_K", 13: "q5_K", 14: "q6_K", 15: "q8_K",
	16: "iq2_xxs", 17: "iq2_xs", 18: "iq3_xxs", 19: "iq1_s", 20: "iq4_nl", 21: "iq3_s", 22: "iq2_s",
	23: "iq4_xs", 24: "i8", 25: "i16", 26: "i32", 27: "i64", 28: "f64", 29: "iq1_m", 30: "bf16",
	34: "tq1_0", 35: "tq2_0", 39: "mxfp4"}

func ggmlTypeOf(d DType) uint32 {
	switch d {
	case F32:
		return ggmlF32
	case F16:
		return ggmlF16
	case BF16:
		return ggmlBF16
	case Q8_0:
		return ggmlQ8_0
	}
	panic("model: no ggml type for " + d.String())
}

func dtypeOfGGML(t uint32) (DType, bool) {
	switch t {
	case ggmlF32:
		return F32, true
	case ggmlF16:
		return F16, true
	case ggmlBF16:
		return BF16, true
	case ggmlQ8_0:
		return Q8_0, true
	}
	return 0, false
}

const (
	ggufMagic            = "GGUF"
	ggufDefaultAlignment = 32
	ggufMaxDims          = 4
	ggufMaxArrayDepth    = 4
)

// GGUFKV is one metadata entry. Value is one of uint8, int8, uint16, int16, uint32, int32,
// float32, bool, string, uint64, int64, float64; an array is a slice of one of those ([]string
// for arrays of strings), and an array of arrays is []any whose elements are such slices.
type GGUFKV struct {
	Key   string
	Value any
}

// GGUFFile is a parsed GGUF file. Tensors' Shape is outermost first (the file's dims reversed)
// and their Data alias the bytes parsed.
type GGUFFile struct {
	Version   uint32
	Metadata  []GGUFKV
	Tensors   []*Tensor
	Alignment int
	index     map[string]int
	tindex    map[string]*Tensor
}

// Get returns a metadata value by key.
func (f *GGUFFile) Get(key string) (any, bool) {
	i, ok := f.index[key]
	if !ok {
		return nil, false
	}
	return f.Metadata[i].Value, true
}

// Tensor returns a tensor by name (nil if absent).
func (f *GGUFFile) Tensor(name string) *Tensor { return f.tindex[name] }

type ggufReader struct {
	file string
	data []byte
	pos  int
}

var errShort = errors.New("unexpected end of file")

func (r *ggufReader) need(n uint64) error {
	if n > uint64(len(r.data)-r.pos) {
		return errShort
	}
	return nil
}

func (r *ggufReader) bytes(n uint64) ([]byte, error) {
	if err := r.need(n); err != nil {
		return nil, err
	}
	b := r.data[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

func (r *ggufReader) u8() (uint8, error) {
	b, err := r.bytes(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *ggufReader) u16() (uint16, error) {
	b, err := r.bytes(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (r *ggufReader) u32() (uint32, error) {
	b, err := r.bytes(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *ggufReader) u64() (uint64, error) {
	b, err := r.bytes(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (r *ggufReader) str() (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// scalarSize is the encoded size of a fixed-size value type (0 for string/array/unknown).
func scalarSize(t uint32) uint64 {
	switch t {
	case ggufUint8, ggufInt8, ggufBool:
		return 1
	case ggufUint16, ggufInt16:
		return 2
	case ggufUint32, ggufInt32, ggufFloat32:
		return 4
	case ggufUint64, ggufInt64, ggufFloat64:
		return 8
	}
	return 0
}

func (r *ggufReader) scalar(t uint32) (any, error) {
	switch t {
	case ggufUint8:
		return r.u8()
	case ggufInt8:
		v, err := r.u8()
		return int8(v), err
	case ggufBool:
		v, err := r.u8()
		return v != 0, err
	case ggufUint16:
		return r.u16()
	case ggufInt16:
		v, err := r.u16()
		return int16(v), err
	case ggufUint32:
		return r.u32()
	case ggufInt32:
		v, err := r.u32()
		return int32(v), err
	case ggufFloat32:
		v, err := r.u32()
		return math.Float32frombits(v), err
	case ggufUint64:
		return r.u64()
	case ggufInt64:
		v, err := r.u64()
		return int64(v), err
	case ggufFloat64:
		v, err := r.u64()
		return math.Float64frombits(v), err
	case ggufString:
		return r.str()
	}
	return nil, fmt.Errorf("unknown value type %d", t)
}

func (r *ggufReader) value(t uint32, depth int) (any, error) {
	if t != ggufArray {
		return r.scalar(t)
	}
	if depth >= ggufMaxArrayDepth {
		return nil, fmt.Errorf("arrays nested deeper than %d", ggufMaxArrayDepth)
	}
	et, err := r.u32()
	if err != nil {
		return nil, err
	}
	n, err := r.u64()
	if err != nil {
		return nil, err
	}
	// Bound the count by what the rest of the file can hold before allocating.
	minSize := scalarSize(et)
	switch et {
	case ggufString:
		minSize = 8
	case ggufArray:
		minSize = 12
	}
	if minSize == 0 {
		return nil, fmt.Errorf("array of unknown value type %d", et)
	}
	if n > uint64(len(r.data)-r.pos)/minSize {
		return nil, fmt.Errorf("array of %d values runs past the end of the file", n)
	}
	switch et {
	case ggufUint8:
		b, err := r.bytes(n)
		return append([]uint8(nil), b...), err
	case ggufInt8:
		return readArray(r, n, func() (int8, error) { v, err := r.u8(); return int8(v), err })
	case ggufBool:
		return readArray(r, n, func() (bool, error) { v, err := r.u8(); return v != 0, err })
	case ggufUint16:
		return readArray(r, n, r.u16)
	case ggufInt16:
		return readArray(r, n, func() (int16, error) { v, err := r.u16(); return int16(v), err })
	case ggufUint32:
		return readArray(r, n, r.u32)
	case ggufInt32:
		return readArray(r, n, func() (int32, error) { v, err := r.u32(); return int32(v), err })
	case ggufFloat32:
		return readArray(r, n, func() (float32, error) { v, err := r.u32(); return math.Float32frombits(v), err })
	case ggufUint64:
		return readArray(r, n, r.u64)
	case ggufInt64:
		return readArray(r, n, func() (int64, error) { v, err := r.u64(); return int64(v), err })
	case ggufFloat64:
		return readArray(r, n, func() (float64, error) { v, err := r.u64(); return math.Float64frombits(v), err })
	case ggufString:
		return readArray(r, n, r.str)
	default: // ggufArray
		return readArray(r, n, func() (any, error) { return r.value(ggufArray, depth+1) })
	}
}

func readArray[T any](r *ggufReader, n uint64, next func() (T, error)) ([]T, error) {
	out := make([]T, n)
	for i := range out {
		v, err := next()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// ParseGGUF parses the bytes of a GGUF file (version 2 or 3, little-endian). file is used in
// error messages only. Every count, size and offset is checked against the bytes at hand.
func ParseGGUF(file string, data []byte) (*GGUFFile, error) {
	r := &ggufReader{file: file, data: data}
	fail := func(what string, err error) (*GGUFFile, error) {
		return nil, fmt.Errorf("%s: gguf %s: %w", file, what, err)
	}
	magic, err := r.bytes(4)
	if err != nil || string(magic) != ggufMagic {
		return nil, fmt.Errorf("%s: not a GGUF file (bad magic)", file)
	}
	f := &GGUFFile{index: map[string]int{}, tindex: map[string]*Tensor{}}
	if f.Version, err = r.u32(); err != nil {
		return fail("header", err)
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("%s: unsupported GGUF version %d (want 3; big-endian files are not supported)",
			file, f.Version)
	}
	nt, err := r.u64()
	if err != nil {
		return fail("header", err)
	}
	nkv, err := r.u64()
	if err != nil {
		return fail("header", err)
	}
	// A key-value pair takes at least 13 bytes, a tensor info at least 24.
	if nkv > uint64(len(data))/13 {
		return nil, fmt.Errorf("%s: gguf header claims %d metadata entries, more than the file can hold", file, nkv)
	}
	if nt > uint64(len(data))/24 {
		return nil, fmt.Errorf("%s: gguf header claims %d tensors, more than the file can hold", file, nt)
	}
	for i := uint64(0); i < nkv; i++ {
		key, err := r.str()
		if err != nil {
			return fail(fmt.Sprintf("metadata entry %d", i), err)
		}
		t, err := r.u32()
		if err != nil {
			return fail("metadata "+key, err)
		}
		v, err := r.value(t, 0)
		if err != nil {
			return fail("metadata "+key, err)
		}
		if _, dup := f.index[key]; dup {
			return nil, fmt.Errorf("%s: gguf metadata key %s appears twice", file, key)
		}
		f.index[key] = len(f.Metadata)
		f.Metadata = append(f.Metadata, GGUFKV{Key: key, Value: v})
	}
	f.Alignment = ggufDefaultAlignment
	if v, ok := f.Get("general.alignment"); ok {
		a, ok := v.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("%s: gguf general.alignment %v must be a power of two uint32", file, v)
		}
		f.Alignment = int(a)
	}
	type info struct {
		t   *Tensor
		off uint64
	}
	infos := make([]info, 0, nt)
	for i := uint64(0); i < nt; i++ {
		name, err := r.str()
		if err != nil {
			return fail(fmt.Sprintf("tensor info %d", i), err)
		}
		nd, err := r.u32()
		if err != nil {
			return fail("tensor "+name, err)
		}
		if nd == 0 || nd > ggufMaxDims {
			return nil, fmt.Errorf("%s: gguf tensor %s has %d dimensions (want 1 to %d)", file, name, nd, ggufMaxDims)
		}
		shape := make([]int, nd)
		for j := range shape {
			d, err := r.u64()
			if err != nil {
				return fail("tensor "+name, err)
			}
			if d == 0 || d > uint64(maxElements) {
				return nil, fmt.Errorf("%s: gguf tensor %s has bad dimension %d", file, name, d)
			}
			shape[int(nd)-1-j] = int(d) // the file lists the innermost dimension first
		}
		gt, err := r.u32()
		if err != nil {
			return fail("tensor "+name, err)
		}
		off, err := r.u64()
		if err != nil {
			return fail("tensor "+name, err)
		}
		dt, ok := dtypeOfGGML(gt)
		if !ok {
			tn := ggmlTypeNames[gt]
			if tn == "" {
				tn = "unknown"
			}
			return nil, fmt.Errorf("%s: gguf tensor %s has unsupported type %s (%d); Arbor reads f32, f16, "+
				"bf16 and q8_0", file, name, tn, gt)
		}
		if _, err := checkShape(name, dt, shape); err != nil {
			return nil, fmt.Errorf("%s: gguf %w", file, err)
		}
		if _, dup := f.tindex[name]; dup {
			return nil, fmt.Errorf("%s: gguf tensor %s appears twice", file, name)
		}
		t := &Tensor{Name: name, DType: dt, Shape: shape}
		f.tindex[name] = t
		infos = append(infos, info{t, off})
	}
	start := (r.pos + f.Alignment - 1) / f.Alignment * f.Alignment
	if nt > 0 && start > len(data) {
		return nil, fmt.Errorf("%s: gguf file ends before its tensor data", file)
	}
	body := data[min(start, len(data)):]
	for _, in := range infos {
		size := uint64(in.t.ByteSize())
		if in.off%uint64(f.Alignment) != 0 {
			return nil, fmt.Errorf("%s: gguf tensor %s offset %d is not a multiple of the alignment %d", file,
				in.t.Name, in.off, f.Alignment)
		}
		if in.off > uint64(len(body)) || size > uint64(len(body))-in.off {
			return nil, fmt.Errorf("%s: gguf tensor %s (%d bytes at offset %d) runs past the end of the file "+
				"(%d bytes of data)", file, in.t.Name, size, in.off, len(body))
		}
		in.t.Data = body[in.off : in.off+size : in.off+size]
		f.Tensors = append(f.Tensors, in.t)
	}
	return f, nil
}

// ReadGGUF maps and parses a GGUF file; release unmaps it (the tensors' data go with it).
func ReadGGUF(path string) (f *GGUFFile, release func() error, err error) {
	data, release, err := mapFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open gguf: %w", err)
	}
	f, err = ParseGGUF(path, data)
	if err != nil {
		release()
		return nil, nil, err
	}
	return f, release, nil
}

// ggufTensorOut is a tensor to write: its header fields and how to write its bytes.
type ggufTensorOut struct {
	name  string
	dtype DType
	shape []int // outermost first
	size  int
	write func(w io.Writer) error
}

func tensorOut(t *Tensor, name string) ggufTensorOut {
	return ggufTensorOut{name: name, dtype: t.DType, shape: t.Shape, size: len(t.Data),
		write: func(w io.Writer) error { _, err := w.Write(t.Data); return err }}
}

// WriteGGUFFile writes a GGUF v3 file with the given metadata (in order) and tensors (named by
// their Name). The alignment is general.alignment's (a uint32) when kvs has it, else 32.
func WriteGGUFFile(path string, kvs []GGUFKV, tensors []*Tensor) error {
	outs := make([]ggufTensorOut, len(tensors))
	for i, t := range tensors {
		if err := t.Check(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		outs[i] = tensorOut(t, t.Name)
	}
	return writeGGUF(path, kvs, outs)
}

func writeGGUF(path string, kvs []GGUFKV, tensors []ggufTensorOut) error {
	if err := checkGGUFKVs(kvs); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeFile(path, func(w io.Writer) error { return encodeGGUF(w, kvs, tensors) })
}

// writeFile creates path and fills it through a buffered writer; on any error the partial file
// is removed, so a failed write never leaves a file that looks like a model.
func writeFile(path string, fill func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := fill(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// EncodeGGUF writes a GGUF v3 file to w, as WriteGGUFFile does.
func EncodeGGUF(w io.Writer, kvs []GGUFKV, tensors []*Tensor) error {
	outs := make([]ggufTensorOut, len(tensors))
	for i, t := range tensors {
		if err := t.Check(); err != nil {
			return err
		}
		outs[i] = tensorOut(t, t.Name)
	}
	if err := checkGGUFKVs(kvs); err != nil {
		return err
	}
	return encodeGGUF(w, kvs, outs)
}

// checkGGUFKVs refuses duplicate keys and a general.alignment that is not a power-of-two uint32.
func checkGGUFKVs(kvs []GGUFKV) error {
	seen := map[string]bool{}
	for _, kv := range kvs {
		if seen[kv.Key] {
			return fmt.Errorf("metadata key %s twice", kv.Key)
		}
		seen[kv.Key] = true
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("general.alignment %v must be a power of two uint32", kv.Value)
			}
		}
	}
	return nil
}

func encodeGGUF(w io.Writer, kvs []GGUFKV, tensors []ggufTensorOut) error {
	align := uint64(ggufDefaultAlignment)
	for _, kv := range kvs {
		if kv.Key == "general.alignment" {
			align = uint64(kv.Value.(uint32))
		}
	}
	cw := &countWriter{w: w}
	e := &ggufEncoder{w: cw}
	e.raw([]byte(ggufMagic))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		if err := e.value(kv.Value, true); err != nil {
			return fmt.Errorf("metadata %s: %w", kv.Key, err)
		}
	}
	var off uint64
	names := map[string]bool{}
	for _, t := range tensors {
		if names[t.name] {
			return fmt.Errorf("tensor %s twice", t.name)
		}
		names[t.name] = true
		e.str(t.name)
		e.u32(uint32(len(t.shape)))
		for j := len(t.shape) - 1; j >= 0; j-- {
			e.u64(uint64(t.shape[j]))
		}
		e.u32(ggmlTypeOf(t.dtype))
		e.u64(off)
		off += (uint64(t.size) + align - 1) / align * align
	}
	e.pad(align)
	for _, t := range tensors {
		n0 := cw.n
		if err := t.write(cw); err != nil {
			return fmt.Errorf("tensor %s: %w", t.name, err)
		}
		if cw.n-n0 != int64(t.size) {
			return fmt.Errorf("tensor %s: wrote %d bytes, want %d", t.name, cw.n-n0, t.size)
		}
		e.pad(align)
	}
	if e.err != nil {
		return e.err
	}
	return cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

type ggufEncoder struct {
	w   *countWriter
	err error
	b   [8]byte
}

func (e *ggufEncoder) raw(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}
func (e *ggufEncoder) u8(v uint8) { e.raw([]byte{v}) }
func (e *ggufEncoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.b[:], v)
	e.raw(e.b[:2])
}
func (e *ggufEncoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.b[:], v)
	e.raw(e.b[:4])
}
func (e *ggufEncoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.b[:], v)
	e.raw(e.b[:8])
}
func (e *ggufEncoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}
func (e *ggufEncoder) pad(align uint64) {
	if r := uint64(e.w.n) % align; r != 0 {
		e.raw(make([]byte, align-r))
	}
}

// valueType is the GGUF type of a Go value (ggufArray for slices), or false if it has none.
func valueType(v any) (uint32, bool) {
	switch v.(type) {
	case uint8:
		return ggufUint8, true
	case int8:
		return ggufInt8, true
	case uint16:
		return ggufUint16, true
	case int16:
		return ggufInt16, true
	case uint32:
		return ggufUint32, true
	case int32:
		return ggufInt32, true
	case float32:
		return ggufFloat32, true
	case bool:
		return ggufBool, true
	case string:
		return ggufString, true
	case uint64:
		return ggufUint64, true
	case int64:
		return ggufInt64, true
	case float64:
		return ggufFloat64, true
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool, []string,
		[]uint64, []int64, []float64, []any:
		return ggufArray, true
	}
	return 0, false
}

// value writes v, preceded by its type when typed is set.
func (e *ggufEncoder) value(v any, typed bool) error {
	t, ok := valueType(v)
	if !ok {
		return fmt.Errorf("no GGUF type for a Go %T", v)
	}
	if typed {
		e.u32(t)
	}
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case []uint8:
		e.u32(ggufUint8)
		e.u64(uint64(len(x)))
		e.raw(x)
	case []int8:
		return writeArray(e, ggufInt8, x)
	case []uint16:
		return writeArray(e, ggufUint16, x)
	case []int16:
		return writeArray(e, ggufInt16, x)
	case []uint32:
		return writeArray(e, ggufUint32, x)
	case []int32:
		return writeArray(e, ggufInt32, x)
	case []float32:
		return writeArray(e, ggufFloat32, x)
	case []bool:
		return writeArray(e, ggufBool, x)
	case []string:
		return writeArray(e, ggufString, x)
	case []uint64:
		return writeArray(e, ggufUint64, x)
	case []int64:
		return writeArray(e, ggufInt64, x)
	case []float64:
		return writeArray(e, ggufFloat64, x)
	case []any:
		for _, el := range x {
			if t, _ := valueType(el); t != ggufArray {
				return fmt.Errorf("an array of arrays holds a Go %T", el)
			}
		}
		return writeArray(e, ggufArray, x)
	}
	return e.err
}

func writeArray[T any](e *ggufEncoder, et uint32, xs []T) error {
	e.u32(et)
	e.u64(uint64(len(xs)))
	for _, x := range xs {
		if err := e.value(x, false); err != nil {
			return err
		}
	}
	return e.err
}
