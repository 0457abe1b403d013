package model

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// Scales of the random initialisation (see NewRandom).
const (
	randNormNoise = 0.1  // norm weights are 1 ± this (uniform)
	randBiasStd   = 0.02 // Q/K/V biases
	// randLogitStd is the standard deviation of the logits a random model aims for: a spread of
	// a few units, so greedy choices are far apart compared with rounding error.
	randLogitStd = 2.0
)

// randInit is how one tensor is drawn.
type randInit struct {
	std  float64 // normal with this standard deviation, or
	norm bool    // 1 ± randNormNoise uniform
}

// NewRandom makes weights of cfg's shapes with deterministic random values: the same cfg, dtype
// and seed give the same bytes, whatever the number of CPUs (each tensor's chunk of rows has
// its own stream, derived from the seed, the tensor's name and the chunk's index).
//
// Matrices are stored as dtype, 1-D tensors (norms, biases) as F32, as llama.cpp's converter
// does; with Q8_0 the embedding and output are q8_0 too. Values are approximately normal
// (Irwin-Hall: a scaled sum of four uniforms, which is fast): projections have std
// 1/sqrt(in), O and Down a further 1/sqrt(2*layers) so the residual stream grows slowly;
// norms are 1 ± 0.1 (a norm applied wrongly shows); biases have std 0.02. The untied embedding
// has std 1 and the untied output std randLogitStd/sqrt(hidden), so the logits (of a hidden
// state of RMS 1 after the final norm) have std about randLogitStd; a tied embedding has that
// smaller std too, as it serves as the output.
func NewRandom(cfg *Config, dtype DType, seed uint64) (*Weights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !dtype.valid() {
		return nil, fmt.Errorf("unknown dtype %v", dtype)
	}
	w := &Weights{}
	sl := slots(cfg, w)
	outStd := randLogitStd / math.Sqrt(float64(cfg.HiddenSize))
	resid := 1 / math.Sqrt(2*float64(cfg.NumLayers))
	type job struct {
		t          *Tensor
		init       randInit
		chunk      int
		rowsPerJob int
		key        uint64
	}
	var jobs []job
	for _, s := range sl {
		var in randInit
		name := s.hf
		switch {
		case len(s.shape) == 1 && strings.HasSuffix(name, ".bias"):
			in.std = randBiasStd
		case len(s.shape) == 1:
			in.norm = true
		case name == "model.embed_tokens.weight":
			in.std = 1
			if cfg.TieEmbeddings {
				in.std = outStd
			}
		case name == "lm_head.weight":
			in.std = outStd
		case strings.HasSuffix(name, "o_proj.weight") || strings.HasSuffix(name, "down_proj.weight"):
			in.std = resid / math.Sqrt(float64(s.shape[1]))
		default:
			in.std = 1 / math.Sqrt(float64(s.shape[1]))
		}
		d := dtype
		if len(s.shape) == 1 {
			d = F32
		}
		if _, err := checkShape(name, d, s.shape); err != nil {
			return nil, err
		}
		t := &Tensor{Name: name, DType: d, Shape: append([]int(nil), s.shape...)}
		t.Data = make([]byte, t.ByteSize())
		*s.dst = t
		h := fnv.New64a()
		h.Write([]byte(name))
		key := h.Sum64()
		rows, cols := t.Rows(), t.Cols()
		per := max(1, (1<<18)/cols)
		for c := 0; c*per < rows; c++ {
			jobs = append(jobs, job{t: t, init: in, chunk: c, rowsPerJob: per, key: key})
		}
	}
	if cfg.TieEmbeddings {
		w.Output = w.TokenEmbed
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []float32
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				j := jobs[i]
				cols := j.t.Cols()
				r0 := j.chunk * j.rowsPerJob
				r1 := min(r0+j.rowsPerJob, j.t.Rows())
				n := (r1 - r0) * cols
				if cap(buf) < n {
					buf = make([]float32, n)
				}
				buf = buf[:n]
				src := rand.NewPCG(seed^j.key, splitmix(uint64(j.chunk)^seed))
				fillRandom(buf, j.init, src)
				rb := j.t.DType.RowBytes(cols)
				for r := r0; r < r1; r++ {
					encodeRow(j.t.DType, j.t.Data[r*rb:(r+1)*rb], buf[(r-r0)*cols:(r-r0+1)*cols])
				}
			}
		}()
	}
	wg.Wait()
	return w, nil
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// fillRandom draws buf from init. A normal value is the sum of the four 16-bit lanes of one
// 64-bit draw, centred and scaled to unit variance (Irwin-Hall, n = 4).
func fillRandom(buf []float32, in randInit, src *rand.PCG) {
	if in.norm {
		for i := range buf {
			u := float64(src.Uint64()>>11) / (1 << 53)
			buf[i] = float32(1 + randNormNoise*(2*u-1))
		}
		return
	}
	const mean = 2 * 65535.0
	sd := math.Sqrt(4 * (65536.0*65536.0 - 1) / 12)
	scale := float32(in.std / sd)
	for i := range buf {
		u := src.Uint64()
		s := u&0xffff + u>>16&0xffff + u>>32&0xffff + u>>48
		buf[i] = (float32(int32(s)) - mean) * scale // s < 2^18
	}
}
