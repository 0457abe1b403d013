// Package backend defines the boundary between the engine (scheduling, KV bookkeeping) and the
// code that runs a model's forward pass on some device. The engine owns which tokens go into a
// step and where their keys and values live (page tables from runtime/kv); a backend owns the
// weights and the KV page memory, and computes logits.
package backend

import (
	"errors"
	"fmt"

	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// SeqInput is one sequence's share of a forward step: a prefill chunk (several tokens) or a
// single decode token.
type SeqInput struct {
	// Tokens are the new token ids, in order.
	Tokens []int32
	// Positions are their RoPE positions (usually Start, Start+1, ...; after pruning they may
	// keep a gap or be renumbered, which is the engine's choice).
	Positions []int32
	// Start is the KV slot of the first new token: slots [0, Start) already hold this
	// sequence's keys and values, and the new tokens are written to [Start, Start+len(Tokens)).
	Start int
	// Pages is the sequence's page table: Pages[i] holds slots [i*PageSize, (i+1)*PageSize).
	// It must cover every slot up to Start+len(Tokens).
	Pages []int32
	// Logits asks for the logits of the last new token (a prefill chunk in the middle of a
	// prompt needs none).
	Logits bool
	// Pool, when set, receives the sum of the new tokens' last hidden states (after the final
	// norm, as the output layer reads them): a text's mean-pooled embedding is the sum over
	// its chunks divided by its length. Only backends that implement HiddenPooler take it;
	// its length must be their HiddenSize.
	Pool []float32
	// Sparse, when set, asks for DELTA sparse attention (see runtime/sparse) for a decode
	// token (one new token) whose context is longer than the selection keeps
	// (Sparse.Active): select layers attend fully and pick pages, sparse layers attend only
	// to the pages the latest select layer below them picked. Prefill chunks and short
	// contexts attend fully, and the result is then the full attention's, bit for bit. The
	// config must be valid for the backend's model (Validate).
	Sparse *sparse.Config

	// SparsePages, when set with Sparse on an active decode token, overrides the select
	// layers' picks: sparse layers attend to exactly these logical pages (ascending, each
	// below the sequence's page count). For tests and analysis tools that need a known
	// selection; serving never sets it.
	SparsePages []int32

	// Filled in by Forward for every sequence: the context slots its last new token could
	// attend to (Context) and, averaged over the layers and rounded, the ones it did
	// (Attended; equal to Context unless sparse attention ran).
	Attended, Context int
}

// Batch is one forward step over several sequences. Every token attends causally to its own
// sequence's slots only.
type Batch struct {
	Seqs []SeqInput
}

// NumTokens is the number of new tokens in the batch.
func (b *Batch) NumTokens() int {
	n := 0
	for i := range b.Seqs {
		n += len(b.Seqs[i].Tokens)
	}
	return n
}

// Validate checks a batch against a backend's vocabulary and KV pool (numPages pages of
// pageSize slots) and against logits, the rows Forward would fill: every sequence has tokens
// in the vocabulary with as many positions, a non-negative start, a page table covering its
// slots with pages in the pool, and a logits row of at least vocab entries where it asks for
// one. Errors wrap ErrBadBatch and name the sequence.
func (b *Batch) Validate(vocab, pageSize, numPages int, logits [][]float32) error {
	if len(logits) < len(b.Seqs) {
		return fmt.Errorf("%w: %d logits rows for %d sequences", ErrBadBatch, len(logits), len(b.Seqs))
	}
	for i := range b.Seqs {
		s := &b.Seqs[i]
		if len(s.Tokens) == 0 {
			return fmt.Errorf("%w: sequence %d has no tokens", ErrBadBatch, i)
		}
		if len(s.Positions) != len(s.Tokens) {
			return fmt.Errorf("%w: sequence %d: %d positions for %d tokens", ErrBadBatch, i, len(s.Positions), len(s.Tokens))
		}
		if s.Start < 0 {
			return fmt.Errorf("%w: sequence %d: negative start", ErrBadBatch, i)
		}
		end := s.Start + len(s.Tokens)
		need := (end + pageSize - 1) / pageSize
		if len(s.Pages) < need {
			return fmt.Errorf("%w: sequence %d: %d pages cannot hold %d slots", ErrBadBatch, i, len(s.Pages), end)
		}
		for _, p := range s.Pages[:need] {
			if p < 0 || int(p) >= numPages {
				return fmt.Errorf("%w: sequence %d: page %d outside the pool of %d", ErrBadBatch, i, p, numPages)
			}
		}
		for _, t := range s.Tokens {
			if t < 0 || int(t) >= vocab {
				return fmt.Errorf("%w: sequence %d: token %d outside the vocabulary of %d", ErrBadBatch, i, t, vocab)
			}
		}
		if s.Sparse != nil && (s.Sparse.Budget < 1 || s.Sparse.Recent < 1) {
			return fmt.Errorf("%w: sequence %d: sparse budget %d and recent %d must be at least 1",
				ErrBadBatch, i, s.Sparse.Budget, s.Sparse.Recent)
		}
		if s.Logits && len(logits[i]) < vocab {
			return fmt.Errorf("%w: sequence %d: logits row of %d, want %d", ErrBadBatch, i, len(logits[i]), vocab)
		}
	}
	return nil
}

// Backend runs forward passes. Implementations are not safe for concurrent Forward calls: the
// engine steps one batch at a time.
type Backend interface {
	// Forward runs one step. For each sequence i with Seqs[i].Logits set, logits[i] (length
	// VocabSize) receives the logits of its last token; other entries are left alone.
	Forward(b *Batch, logits [][]float32) error
	// CopySlots performs the slot moves that kv.Sequence.Remove returns (pruning), in order,
	// in every layer's K and V.
	CopySlots(moves []kv.Move) error
	// VocabSize is the width of a logits row.
	VocabSize() int
	// PageSize is the number of slots in a KV page; NumPages the pages it holds.
	PageSize() int
	NumPages() int
	// Close frees the backend's memory.
	Close() error
}

// HiddenPooler is a backend that fills SeqInput.Pool.
type HiddenPooler interface {
	// HiddenSize is the width of a hidden state (SeqInput.Pool's length).
	HiddenSize() int
}

// CheckPool validates the batch's Pool requests against a backend's hidden size (0: a
// backend that does not pool). Errors wrap ErrBadBatch and name the sequence.
func (b *Batch) CheckPool(hidden int) error {
	for i := range b.Seqs {
		if p := b.Seqs[i].Pool; p != nil {
			if hidden == 0 {
				return fmt.Errorf("%w: sequence %d asks for pooled hidden states, which this backend does not compute", ErrBadBatch, i)
			}
			if len(p) != hidden {
				return fmt.Errorf("%w: sequence %d: pool of %d values, the hidden size is %d", ErrBadBatch, i, len(p), hidden)
			}
		}
	}
	return nil
}

// CheckSparse validates the sparse configs of a batch's sequences against a model of
// numLayers layers. Errors wrap ErrBadBatch and name the sequence.
func (b *Batch) CheckSparse(numLayers int) error {
	for i := range b.Seqs {
		if c := b.Seqs[i].Sparse; c != nil {
			if err := c.Validate(numLayers); err != nil {
				return fmt.Errorf("%w: sequence %d: %w", ErrBadBatch, i, err)
			}
		}
	}
	return nil
}

// AttentionProbe reports one layer's attention of one sequence's last new token, for analysis
// tools (calibrating and evaluating sparse attention). Probs holds the full attention's
// softmax probabilities of each query head over the N context slots First, First+1, ...
// (First > 0 only under a sliding window), head h's at Probs[h*N:(h+1)*N], whatever the
// layer's mode; Picked, for a sparse layer that attended sparsely, the logical pages it
// attended to (their slots inside the context). Both are only valid during the call.
type AttentionProbe struct {
	Layer, Seq      int
	Mode            sparse.Mode
	Heads, First, N int
	Probs           []float32
	Picked          []int32
}

// AttentionProber is implemented by backends that can report attention probabilities. With a
// probe set, Forward is slower (it computes full probabilities in sparse layers too) but its
// results are unchanged; fn runs on the goroutine that called Forward.
type AttentionProber interface {
	SetAttentionProbe(fn func(*AttentionProbe))
}

// KVType is the element type of a backend's KV cache.
type KVType uint8

const (
	// KVF16 stores keys and values as IEEE half floats: half the bytes a decode step reads,
	// at a rounding error (11 significant bits) well below what attention is sensitive to.
	// llama.cpp's default too.
	KVF16 KVType = iota
	// KVF32 stores them as float32, exactly as computed.
	KVF32
)

func (t KVType) String() string {
	switch t {
	case KVF16:
		return "f16"
	case KVF32:
		return "f32"
	}
	return fmt.Sprintf("KVType(%d)", uint8(t))
}

// Bytes is the size of one cached element.
func (t KVType) Bytes() int {
	if t == KVF32 {
		return 4
	}
	return 2
}

// ParseKVType reads the --kv-dtype flag's values: f16 or f32.
func ParseKVType(s string) (KVType, error) {
	switch s {
	case "f16":
		return KVF16, nil
	case "f32":
		return KVF32, nil
	}
	return 0, fmt.Errorf("KV cache type %q: want f16 or f32", s)
}

// ErrBadBatch is returned (wrapped) for a batch that does not fit the backend: page tables too
// short, pages out of range, token ids outside the vocabulary.
var ErrBadBatch = errors.New("bad batch")

// KeyShifter is implemented by backends that can re-rotate cached keys in place. Pruning a
// span from the middle of a sequence moves the keys after it down by the span's length; a
// RoPE rotation by -length then makes them exactly the keys of their new positions (rotations
// compose), which costs a pass over those keys instead of a forward pass over their tokens.
type KeyShifter interface {
	// ShiftKeys rotates the keys of slots [begin, end) of the sequence whose page table is
	// pages by delta positions, in every layer.
	ShiftKeys(pages []int32, begin, end, delta int) error
}

// CacheFiller is implemented by backends that can write made-up keys and values straight into
// the KV cache. Benchmarks of decoding after a long context use it to skip a prefill whose cost
// (quadratic in the context) is not what they measure: the values are deterministic
// pseudo-random numbers of the size real keys and values have, and attention over them costs
// what it costs over real ones.
type CacheFiller interface {
	// FillCache writes slots [0, n) of the sequence whose page table is pages, in every layer.
	FillCache(pages []int32, n int, seed uint64) error
}

// CheckShift validates ShiftKeys' arguments for a cache of numPages pages of pageSize slots:
// a well-formed range whose pages the table holds and the pool has. Errors wrap ErrBadBatch.
func CheckShift(pages []int32, begin, end, pageSize, numPages int) error {
	if begin < 0 || begin > end || (end+pageSize-1)/pageSize > len(pages) {
		return fmt.Errorf("%w: shift keys of slots [%d,%d) with a page table of %d pages", ErrBadBatch, begin, end, len(pages))
	}
	for _, p := range pages[begin/pageSize : (end+pageSize-1)/pageSize] {
		if p < 0 || int(p) >= numPages {
			return fmt.Errorf("%w: shift keys: page %d outside %d pages", ErrBadBatch, p, numPages)
		}
	}
	return nil
}
