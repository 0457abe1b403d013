package embed

import (
	"context"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// DefaultHashedDim is the hashed embedder's default width. 512 keeps collisions rare for
// chat-sized texts while an int8 vector stays half a kilobyte.
const DefaultHashedDim = 512

// Feature weights. Character n-grams far outnumber words (a six-letter word gives 15 of
// them), so each counts for less; they are there to match inflections and typos
// ("remember"/"remembered"), while words and word pairs carry the meaning.
const (
	weightWord   = 1.0
	weightBigram = 0.7
	weightChar   = 0.25
)

// Hashed is the built-in, model-free embedder. A text becomes the bag of its word unigrams,
// word bigrams and the character 3- to 5-grams of each word (with boundary markers); each
// feature is hashed (FNV-1a 64, then a mixer) to one of Dim() buckets and a sign, counted
// with sublinear term frequency 1+ln(tf), weighted by kind, and the vector is L2-normalised.
// The signed hashing keeps collisions from adding up in one direction, so dot products stay
// unbiased estimates of the feature-space ones.
//
// It needs no model, is deterministic across runs and machines, and is safe for concurrent use.
type Hashed struct {
	dim int
}

// NewHashed returns a hashed embedder of dim dimensions; dim <= 0 means DefaultHashedDim.
func NewHashed(dim int) *Hashed {
	if dim <= 0 {
		dim = DefaultHashedDim
	}
	return &Hashed{dim: dim}
}

// Dim returns the vector width.
func (h *Hashed) Dim() int { return h.dim }

// Name names the vector space: the feature set's version and the width. Change the version
// whenever the features or weights change, so vectors stored earlier are not mixed with new ones.
func (h *Hashed) Name() string { return fmt.Sprintf("hashed-ngram-v1-%d", h.dim) }

// Embed embeds each text. It never fails except for a cancelled context; an empty text (or
// one with no word characters) gives the zero vector.
func (h *Hashed) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var scratch hashScratch
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		v := make([]float32, h.dim)
		h.embedInto(v, t, &scratch)
		out[i] = v
	}
	return out, nil
}

// EmbedOne embeds a single text into a new vector.
func (h *Hashed) EmbedOne(text string) []float32 {
	v := make([]float32, h.dim)
	var scratch hashScratch
	h.embedInto(v, text, &scratch)
	return v
}

// hashScratch holds buffers reused across the texts of one Embed call.
type hashScratch struct {
	words  []string
	feats  []feature
	padded []byte
	bounds []int
	acc    []float64
}

// feature is one hashed occurrence; kind picks its weight.
type feature struct {
	hash uint64
	kind uint8
}

const (
	kindWord uint8 = iota
	kindBigram
	kindChar
)

// FNV-1a 64-bit parameters.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvBytes(h uint64, s []byte) uint64 {
	for _, c := range s {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// mix is a 64-bit finaliser (splitmix64's). FNV-1a's low bits are weak for short inputs;
// the bucket comes from the low bits and the sign from the top one, so both need mixing.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

func (h *Hashed) embedInto(v []float32, text string, s *hashScratch) {
	s.words = AppendWords(s.words[:0], text)
	s.feats = s.feats[:0]
	// Each kind starts from its own seed so that a word and a character n-gram with the same
	// bytes are different features.
	for i, w := range s.words {
		s.feats = append(s.feats, feature{fnvString(fnvOffset^uint64(kindWord)*fnvPrime, w), kindWord})
		if i > 0 {
			b := fnvString(fnvOffset^uint64(kindBigram)*fnvPrime, s.words[i-1])
			b ^= ' ' // the separator keeps ("ab","c") apart from ("a","bc")
			b *= fnvPrime
			b = fnvString(b, w)
			s.feats = append(s.feats, feature{b, kindBigram})
		}
		s.feats = h.appendCharGrams(s.feats, w, s)
	}
	if len(s.feats) == 0 {
		return
	}
	// Sort the hashes so equal features sit together; a run's length is its term frequency.
	// Sorting beats a map here: no allocation, and the order makes the sum deterministic.
	slices.SortFunc(s.feats, func(a, b feature) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return int(a.kind) - int(b.kind)
	})
	weights := [3]float64{weightWord, weightBigram, weightChar}
	dim := uint64(len(v))
	if cap(s.acc) < len(v) {
		s.acc = make([]float64, len(v))
	}
	acc := s.acc[:len(v)]
	clear(acc)
	for i := 0; i < len(s.feats); {
		j := i + 1
		for j < len(s.feats) && s.feats[j] == s.feats[i] {
			j++
		}
		m := mix(s.feats[i].hash)
		w := weights[s.feats[i].kind] * (1 + math.Log(float64(j-i)))
		if m>>63 != 0 {
			w = -w
		}
		acc[m%dim] += w
		i = j
	}
	var norm float64
	for _, x := range acc {
		norm += x * x
	}
	if norm == 0 {
		return
	}
	inv := 1 / math.Sqrt(norm)
	for i, x := range acc {
		v[i] = float32(x * inv)
	}
}

// appendCharGrams adds the 3- to 5-rune n-grams of "<word>", the markers letting prefixes
// and suffixes count as such. Words of one or two runes still give their padded trigram.
func (h *Hashed) appendCharGrams(feats []feature, w string, s *hashScratch) []feature {
	s.padded = append(append(append(s.padded[:0], '<'), w...), '>')
	s.bounds = s.bounds[:0]
	for i := 0; i < len(s.padded); {
		s.bounds = append(s.bounds, i)
		_, size := utf8.DecodeRune(s.padded[i:])
		i += size
	}
	s.bounds = append(s.bounds, len(s.padded))
	runes := len(s.bounds) - 1
	seed := fnvOffset ^ uint64(kindChar)*fnvPrime
	for n := 3; n <= 5; n++ {
		for start := 0; start+n <= runes; start++ {
			g := s.padded[s.bounds[start]:s.bounds[start+n]]
			feats = append(feats, feature{fnvBytes(seed, g), kindChar})
		}
	}
	return feats
}
