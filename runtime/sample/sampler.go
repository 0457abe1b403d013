package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// heapTopK is the largest top-k served by a k-element heap during the single scan of the logits;
// larger k collect candidates first and quickselect them, which costs less than heap churn.
const heapTopK = 1024

// negligible is how far below the largest scaled logit (in units of temperature, beyond
// log(vocab)) a token may lie and still matter: the tokens past it hold, all together, less than
// e^-20 (2e-9) of the top token's weight, far below float32 resolution, so they are dropped
// before any exponential is taken.
const negligible = 20

// seedStream is PCG's second seed word; any fixed value makes a seed reproducible.
const seedStream = 0x9e3779b97f4a7c15

// Sampler draws tokens for one sequence. It is not safe for concurrent use; give each sequence
// its own. Its scratch buffers grow to the vocabulary on first use and are then reused, so
// sampling allocates nothing per token.
type Sampler struct {
	p   Params
	pcg rand.PCG
	rng *rand.Rand

	// Penalty state, indexed by token id and grown on demand; the lists name the set entries so
	// that applying penalties and Reset touch only those tokens, never the whole vocabulary.
	inRep []bool   // token is in the repetition-penalty set (context or generated)
	rep   []int32  // that set's members
	count []int32  // times each token was generated
	gen   []int32  // tokens generated at least once
	stamp []uint32 // de-duplicates a call's history against itself
	epoch uint32

	cand []cand // candidates of the current draw; capacity the vocabulary
}

// New returns a sampler for p. It panics when p.Validate fails: validate requests where they
// enter (the server), so reaching here with bad settings is a bug.
func New(p Params) *Sampler {
	if err := p.Validate(); err != nil {
		panic(fmt.Sprintf("sample.New: %v", err))
	}
	s := &Sampler{p: p}
	s.rng = rand.New(&s.pcg)
	s.reseed()
	return s
}

func (s *Sampler) reseed() {
	if s.p.Seed != nil {
		s.pcg.Seed(*s.p.Seed, seedStream)
	} else {
		s.pcg.Seed(rand.Uint64(), rand.Uint64())
	}
}

// Params returns the settings the sampler was made with.
func (s *Sampler) Params() Params { return s.p }

// Reset forgets the context and generated tokens and restarts the random stream (from the seed,
// when there is one), so the sampler can serve a new request with the same settings.
func (s *Sampler) Reset() {
	for _, t := range s.rep {
		s.inRep[t] = false
	}
	for _, t := range s.gen {
		s.count[t] = 0
	}
	s.rep, s.gen = s.rep[:0], s.gen[:0]
	s.reseed()
}

// grow returns b extended with zeros to at least n elements, doubling so that token-by-token
// growth stays amortised.
func grow[T any](b []T, n int) []T {
	if n <= len(b) {
		return b
	}
	if n <= cap(b) {
		return b[:n]
	}
	nb := make([]T, n, max(n, 2*cap(b)))
	copy(nb, b)
	return nb
}

// Observe adds context tokens (the prompt, or tokens forced into the sequence such as tool
// results) to the repetition-penalty set. They do not count for presence or frequency
// penalties, which OpenAI defines over generated tokens. Negative ids are ignored.
func (s *Sampler) Observe(tokens ...int32) {
	for _, t := range tokens {
		s.addRep(t)
	}
}

func (s *Sampler) addRep(t int32) {
	if t < 0 {
		return
	}
	s.inRep = grow(s.inRep, int(t)+1)
	if !s.inRep[t] {
		s.inRep[t] = true
		s.rep = append(s.rep, t)
	}
}

// Accept records a generated token, once it is final (after any grammar check): it joins the
// repetition set and its count for the presence and frequency penalties goes up. Negative ids are
// ignored.
func (s *Sampler) Accept(tok int32) {
	if tok < 0 {
		return
	}
	s.addRep(tok)
	s.count = grow(s.count, int(tok)+1)
	if s.count[tok] == 0 {
		s.gen = append(s.gen, tok)
	}
	s.count[tok]++
}

// Sample applies the penalties to logits in place (see ApplyPenalties) and picks a token from
// them (see Pick). history lists extra tokens to penalise for repetition in this call only, on
// top of those given to Observe and Accept; nil is fine. Sample does not Accept its result.
// It returns -1 when no token is possible (every logit -Inf or NaN).
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	s.ApplyPenalties(logits, history)
	return s.Pick(logits)
}

// ApplyPenalties rewrites logits in place: first the repetition penalty on every token observed,
// accepted or listed in history (each once), then the presence and frequency penalties on the
// accepted tokens. Afterwards logits holds the penalised distribution that Logprobs reports.
// Calling it twice penalises twice: when a grammar rejects the picked token, mask and Pick again.
// Ids outside the logits are ignored. The cost is the size of those token sets, not the
// vocabulary.
func (s *Sampler) ApplyPenalties(logits []float32, history []int32) {
	V := len(logits)
	if rp := s.p.RepetitionPenalty; rp != 1 {
		for _, t := range s.rep {
			if int(t) < V {
				logits[t] = repeat(logits[t], rp)
			}
		}
		if len(history) > 0 {
			s.epoch++
			if s.epoch == 0 { // wrapped: old stamps could collide
				clear(s.stamp)
				s.epoch = 1
			}
			s.stamp = grow(s.stamp, V)
			for _, t := range history {
				if t < 0 || int(t) >= V || s.stamp[t] == s.epoch || (int(t) < len(s.inRep) && s.inRep[t]) {
					continue
				}
				s.stamp[t] = s.epoch
				logits[t] = repeat(logits[t], rp)
			}
		}
	}
	if pres, freq := s.p.PresencePenalty, s.p.FrequencyPenalty; pres != 0 || freq != 0 {
		for _, t := range s.gen {
			if int(t) < V {
				logits[t] -= pres + freq*float32(s.count[t])
			}
		}
	}
}

// repeat is CTRL's repetition penalty: it always makes the token less likely, whatever the sign
// of its logit.
func repeat(l, penalty float32) float32 {
	if l > 0 {
		return l / penalty
	}
	return l * penalty
}

// Pick chooses a token from logits without touching them: the argmax at temperature 0, else a
// draw after temperature, top-k, top-p and min-p. It returns -1 when no token is possible (every
// logit -Inf or NaN).
func (s *Sampler) Pick(logits []float32) int32 {
	if s.p.Temperature == 0 {
		return Argmax(logits)
	}
	kept, total := s.filter(logits)
	if len(kept) == 0 {
		return -1
	}
	u := s.rng.Float64() * total
	acc := 0.0
	for _, c := range kept {
		acc += float64(c.v)
		if u < acc {
			return c.id
		}
	}
	return kept[len(kept)-1].id // u rounded up to the total
}

// Argmax is the index of the largest logit, ties to the lowest index; NaN never wins. It returns
// -1 when there is none (empty, or every logit -Inf or NaN).
func Argmax(logits []float32) int32 {
	// The running maximum changes a few dozen times in a vocabulary scan, so the loop tests
	// blocks of 8 against it with independent comparisons and only walks a block that holds a
	// new maximum. Walking in order with a strict > keeps the lowest index on ties.
	best, bi := float32(math.Inf(-1)), -1
	i := 0
	for ; i+8 <= len(logits); i += 8 {
		v := logits[i : i+8 : i+8]
		if v[0] > best || v[1] > best || v[2] > best || v[3] > best ||
			v[4] > best || v[5] > best || v[6] > best || v[7] > best {
			for j, x := range v {
				if x > best {
					best, bi = x, i+j
				}
			}
		}
	}
	for ; i < len(logits); i++ {
		if logits[i] > best {
			best, bi = logits[i], i
		}
	}
	return int32(bi)
}

// filter returns the tokens left after temperature, top-k, top-p and min-p, each with its
// unnormalised probability exp((logit-max)/T) (1 for the most likely token), and their sum.
// The slice is the sampler's scratch, valid until the next call.
func (s *Sampler) filter(logits []float32) ([]cand, float64) {
	V := len(logits)
	s.cand = grow(s.cand[:0], V)[:0]
	T := s.p.Temperature
	k := s.p.TopK
	if k >= V {
		k = 0
	}
	c := s.cand
	var m float32
	if k > 0 && k <= heapTopK {
		// One scan keeping the k best in a heap: after the first few hundred tokens almost every
		// token costs one comparison with the root.
		for i, v := range logits {
			// A full heap admits only tokens strictly above its root (a tie loses to the root's
			// lower id); testing that here keeps the call off the common path. NaN and -Inf never
			// enter.
			if len(c) == k {
				if v > c[0].v {
					c = heapPush(c, k, cand{int32(i), v})
				}
			} else if v > float32(math.Inf(-1)) {
				c = heapPush(c, k, cand{int32(i), v})
			}
		}
		m = float32(math.Inf(-1))
		for _, x := range c {
			m = max(m, x.v)
		}
	} else {
		// One scan collecting the tokens within reach of the running maximum; those that the
		// final maximum leaves behind are dropped after it. The threshold stays finite (so -Inf
		// never qualifies) unless the maximum is +Inf (so every +Inf qualifies).
		span := T * float32(math.Log(float64(V))+negligible)
		m = float32(math.Inf(-1))
		thr := float32(-math.MaxFloat32)
		n := 0
		c = c[:V]
		for i, v := range logits {
			if v >= thr {
				if v > m {
					m, thr = v, max(v-span, -math.MaxFloat32)
				}
				c[n] = cand{int32(i), v}
				n++
			}
		}
		// Drop what the final maximum left behind.
		kept := 0
		for _, x := range c[:n] {
			if x.v >= thr {
				c[kept] = x
				kept++
			}
		}
		c = c[:kept]
		if k > 0 {
			selectTop(c, k)
			c = c[:min(k, len(c))]
		}
	}
	if len(c) == 0 {
		return c, 0
	}
	if math.IsInf(float64(m), 1) {
		// Infinite logits take all the probability, shared evenly.
		n := 0
		for _, x := range c {
			if x.v == m {
				c[n] = cand{x.id, 1}
				n++
			}
		}
		return c[:n], float64(n)
	}

	total := weigh(c, m, 1/T)
	if p := s.p.TopP; p < 1 {
		// Thresholding first: the candidates lighter than tau = (1-p)*total/len(c) weigh less
		// than (1-p)*total all together, so the nucleus lies among the heavier ones. One pass
		// of comparisons drops the light ones, usually leaving a few dozen tokens for selectMass
		// (on a flat distribution it keeps most and selectMass does the work; still linear).
		target := float64(p) * total
		bound := (total - target) / float64(len(c))
		tau := float32(bound)
		if float64(tau) > bound { // round down, so the dropped side never weighs more
			tau = math.Nextafter32(tau, 0)
		}
		n := 0
		for _, x := range c {
			if x.v >= tau {
				c[n] = x
				n++
			}
		}
		n, total = selectMass(c[:n], target)
		c = c[:n]
	}
	if mp := s.p.MinP; mp > 0 {
		// The most likely token has weight 1, so min-p is a fixed threshold on the weights.
		n := 0
		total = 0
		for _, x := range c {
			if x.v >= mp {
				c[n] = x
				n++
				total += float64(x.v)
			}
		}
		c = c[:n]
	}
	return c, total
}
