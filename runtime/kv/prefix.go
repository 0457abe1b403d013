package kv

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Chained page hashes.
//
// The hash of page k covers that page's tokens and the hash of page k-1, so equal hashes stand for
// equal whole prefixes, and a cache keyed by them needs no token comparison. It is 64 bits wide,
// which is what vLLM's default (Python's built-in hash) amounts to. A wrong hit needs the hash of
// an uncached prefix to equal one of the C cached hashes, chance C/2^64 per lookup that misses:
// with 10^5 cached pages and 10^10 such lookups over a server's life, about 5*10^-5 in all.
//
// It is not a cryptographic hash, and an unkeyed fast hash lets anyone craft two prompts with equal
// hashes offline, which in a shared server would let one client plant KV that another client's
// prompt then attaches. So every chain starts from hashKey, drawn once per process: the hashes are
// only comparable within one process (nothing here stores or sends them elsewhere), and colliding
// inputs cannot be precomputed without the key (a mitigation, not a cryptographic guarantee).
//
// Each step multiplies the state by the next two tokens (64x64->128, folding the halves), so every
// input bit reaches every output bit through a data-dependent multiplier; the constants are the
// usual nothing-up-my-sleeve fractions (golden ratio, pi, e).
const (
	hashK0 = 0x9e3779b97f4a7c15 // 2^64 / golden ratio
	hashK1 = 0x243f6a8885a308d3 // fraction of pi
	// hashK2 has bits 31 and 63 set, so a word of two non-negative token ids XORed with it is
	// never 0 and the multiply never wipes the state.
	hashK2 = 0xb7e151628aed2a6b // fraction of e
)

var hashKey = func() uint64 {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand crashes the program rather than return an error)
	return binary.LittleEndian.Uint64(b[:])
}()

// fold is the full 128-bit product of a and b with its halves XORed together.
func fold(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// PageHashes returns one chained hash per full page of tokens (len(tokens)/pageSize of them; a
// trailing partial page has none, since only full pages are ever shared). Hash k identifies
// tokens[:(k+1)*pageSize] as a whole. Token ids are expected to be non-negative. Hashes are only
// meaningful within this process and for this page size. It panics when pageSize is not positive.
func PageHashes(tokens []int32, pageSize int) []uint64 {
	return AppendPageHashes(make([]uint64, 0, len(tokens)/max(pageSize, 1)), tokens, pageSize)
}

// AppendPageHashes extends hashes, the hashes of the first len(hashes) pages of tokens (as
// PageHashes returns them), with those of the further full pages of tokens. A sequence that grows
// a page at a time thus hashes each page once:
//
//	h = kv.AppendPageHashes(h, tokens, pageSize) // after each step
func AppendPageHashes(hashes []uint64, tokens []int32, pageSize int) []uint64 {
	if pageSize <= 0 {
		panic(fmt.Sprintf("kv: page hashes with page size %d", pageSize))
	}
	// The root depends on the page size too, so chains of different page sizes never meet.
	h := fold(hashKey^hashK0, uint64(pageSize)^hashK2)
	if len(hashes) > 0 {
		h = hashes[len(hashes)-1]
	}
	for k := len(hashes); (k+1)*pageSize <= len(tokens); k++ {
		h = pageHash(h, tokens[k*pageSize:(k+1)*pageSize])
		hashes = append(hashes, h)
	}
	return hashes
}

// pageHash chains parent with one page of tokens.
func pageHash(h uint64, page []int32) uint64 {
	i := 0
	for ; i+2 <= len(page); i += 2 {
		w := uint64(uint32(page[i])) | uint64(uint32(page[i+1]))<<32
		h = fold(h^hashK1, w^hashK2)
	}
	if i < len(page) { // odd page size
		h = fold(h^hashK1, uint64(uint32(page[i]))^hashK2)
	}
	// Final mix, so that the last word's bits also reach every output bit twice.
	return fold(h^hashK2, hashK0)
}

// AttachPrefix starts an empty sequence with the longest cached prefix: it finds the longest
// run hashes[:k] that are all cached, shares those pages (a cached page in the free list is
// revived; it counts as in use again), makes them the sequence's page table and its length
// k*PageSize, and returns that length. It never allocates, so it cannot fail; with no match, or on
// a sequence that is not empty, it changes nothing and returns 0.
//
// hashes are PageHashes of the tokens the sequence will hold. The attached tokens need no forward
// pass; the caller computes the rest, and must leave at least one token to compute when it needs
// logits: pass the hashes of prompt[:len(prompt)-1], not of the whole prompt.
func (s *Sequence) AttachPrefix(hashes []uint64) int {
	if s.n != 0 || len(hashes) == 0 {
		return 0
	}
	p := s.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range hashes {
		id, ok := p.cache[h]
		if !ok {
			break
		}
		if p.ref[id] == 0 {
			p.takeLocked(id)
		} else {
			p.retainLocked(id)
		}
		s.pages = append(s.pages, id)
	}
	s.n = len(s.pages) * p.pageSize
	// Attached pages are shared, or will be once another sequence attaches them: never ours to
	// write in place. They are full, so the next Append starts a fresh page anyway.
	s.ownLast = false
	return s.n
}

// CommitPrefix publishes the sequence's first len(hashes) pages under hashes (PageHashes of the
// sequence's tokens), so that AttachPrefix in other sequences can share them. The caller declares
// that their KV is written: commit after the forward step that computed a page's last token.
//
// It skips, silently, what must not or need not be published: hashes past the sequence's full
// pages, pages from the point where Remove cut the middle of the sequence (see Remove), a page
// that already has a hash, and a hash that another page already caches (that page stays the one
// shared; this one is simply not cached). Committing again, e.g. after every step, is cheap and
// harmless.
func (s *Sequence) CommitPrefix(hashes []uint64) {
	p := s.pool
	full := s.n / p.pageSize
	if s.pruned {
		full = min(full, s.prunedAt/p.pageSize)
	}
	n := min(len(hashes), full)
	if n == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, h := range hashes[:n] {
		p.hashLocked(s.pages[k], h)
	}
	if n == len(s.pages) {
		// The last page may now be shared by AttachPrefix at any time: Append must not write
		// it without the lock (it is full, so Append will not write it at all unless a
		// Truncate makes it partial, and Truncate takes the lock).
		s.ownLast = false
	}
}
