package sample

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

func seed(v uint64) *uint64 { return &v }

func params(mod func(*Params)) Params {
	p := DefaultParams()
	if mod != nil {
		mod(&p)
	}
	return p
}

func randomLogits(rng *rand.Rand, n int, scale float64) []float32 {
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(rng.NormFloat64() * scale)
	}
	return l
}

func TestValidate(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name string
		mod  func(*Params)
		ok   bool
	}{
		{"defaults", nil, true},
		{"greedy", func(p *Params) { p.Temperature = 0 }, true},
		{"everything on", func(p *Params) {
			*p = Params{Temperature: 2, TopK: 40, TopP: 0.5, MinP: 1, RepetitionPenalty: 0.5,
				PresencePenalty: -2, FrequencyPenalty: 2, Seed: seed(1)}
		}, true},
		{"zero value", func(p *Params) { *p = Params{} }, false},
		{"temperature high", func(p *Params) { p.Temperature = 2.01 }, false},
		{"temperature negative", func(p *Params) { p.Temperature = -0.1 }, false},
		{"temperature NaN", func(p *Params) { p.Temperature = nan }, false},
		{"top_k negative", func(p *Params) { p.TopK = -1 }, false},
		{"top_p zero", func(p *Params) { p.TopP = 0 }, false},
		{"top_p above one", func(p *Params) { p.TopP = 1.5 }, false},
		{"min_p negative", func(p *Params) { p.MinP = -0.1 }, false},
		{"min_p above one", func(p *Params) { p.MinP = 1.1 }, false},
		{"repetition zero", func(p *Params) { p.RepetitionPenalty = 0 }, false},
		{"repetition infinite", func(p *Params) { p.RepetitionPenalty = float32(math.Inf(1)) }, false},
		{"presence", func(p *Params) { p.PresencePenalty = 2.5 }, false},
		{"frequency", func(p *Params) { p.FrequencyPenalty = -2.5 }, false},
		{"frequency NaN", func(p *Params) { p.FrequencyPenalty = nan }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := params(tc.mod).Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("error %v does not wrap ErrInvalidParams", err)
			}
		})
	}
	err := Params{}.Validate()
	if err == nil || !strings.Contains(err.Error(), "top_p") || !strings.Contains(err.Error(), "repetition_penalty") {
		t.Fatalf("zero Params should name both bad fields: %v", err)
	}
}

func naiveArgmax(l []float32) int32 {
	best, bi := float32(math.Inf(-1)), int32(-1)
	for i, v := range l {
		if v > best {
			best, bi = v, int32(i)
		}
	}
	return bi
}

func TestGreedy(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, tc := range []struct {
		name   string
		logits []float32
		want   int32
	}{
		{"empty", nil, -1},
		{"single", []float32{-3}, 0},
		{"ties to lowest id", []float32{1, 5, 2, 5, 5, 0, 5}, 1},
		{"tie across lanes", []float32{0, 0, 0, 7, 7, 0, 0, 0, 7}, 3},
		{"tie in tail", []float32{0, 0, 0, 0, 0, 9, 9}, 5},
		{"NaN never wins", []float32{nan, 1, nan, 2, nan}, 3},
		{"all masked", []float32{-inf, -inf, nan, -inf, -inf}, -1},
		{"infinite", []float32{3, inf, 2, inf}, 1},
		{"negative", []float32{-5, -4, -6, -4.5, -7}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Argmax(tc.logits); got != tc.want {
				t.Fatalf("Argmax = %d, want %d", got, tc.want)
			}
			s := New(params(func(p *Params) { p.Temperature = 0 }))
			if got := s.Sample(slices.Clone(tc.logits), nil); got != tc.want {
				t.Fatalf("greedy Sample = %d, want %d", got, tc.want)
			}
		})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 300; n += 7 {
		l := randomLogits(rng, n, 2)
		for i := range l { // coarse values make ties common
			l[i] = float32(math.Round(float64(l[i])))
		}
		if got, want := Argmax(l), naiveArgmax(l); got != want {
			t.Fatalf("n=%d: Argmax %d, naive %d", n, got, want)
		}
	}
}

func TestSeeds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	logits := randomLogits(rng, 500, 1)
	run := func(p Params) []int32 {
		s := New(p)
		var out []int32
		for range 200 {
			tok := s.Sample(slices.Clone(logits), nil)
			s.Accept(tok)
			out = append(out, tok)
		}
		return out
	}
	for _, p := range []Params{
		params(func(p *Params) { p.Seed = seed(42) }),
		params(func(p *Params) { p.Seed = seed(42); p.TopP = 0.8; p.TopK = 100 }),
		params(func(p *Params) { p.Seed = seed(42); p.TopK = 2000; p.MinP = 0.05; p.FrequencyPenalty = 0.5 }),
	} {
		a, b := run(p), run(p)
		if !slices.Equal(a, b) {
			t.Fatalf("%+v: same seed, different tokens", p)
		}
		p.Seed = seed(43)
		if slices.Equal(a, run(p)) {
			t.Fatalf("%+v: different seeds, same 200 tokens", p)
		}
	}
	if a, b := run(DefaultParams()), run(DefaultParams()); slices.Equal(a, b) {
		t.Fatal("unseeded runs repeated each other")
	}
	// Reset restarts a seeded stream.
	s := New(params(func(p *Params) { p.Seed = seed(7) }))
	first := s.Sample(slices.Clone(logits), nil)
	var again []int32
	for range 5 {
		s.Reset()
		again = append(again, s.Sample(slices.Clone(logits), nil))
	}
	for _, tok := range again {
		if tok != first {
			t.Fatalf("after Reset: %v, want all %d", again, first)
		}
	}
}

// TestDistribution checks many draws against softmax(logits/T) with a chi-square bound.
func TestDistribution(t *testing.T) {
	logits := []float32{1.5, 0.2, -0.7, 2.1, 0, -3, 1.1, 0.9}
	for _, T := range []float32{0.5, 1, 1.7} {
		s := New(params(func(p *Params) { p.Temperature = T; p.Seed = seed(uint64(T * 100)) }))
		const draws = 200000
		counts := make([]float64, len(logits))
		for range draws {
			counts[s.Pick(logits)]++
		}
		want := softmax(logits, float64(T))
		chi := 0.0
		for i, c := range counts {
			e := want[i] * draws
			chi += (c - e) * (c - e) / e
		}
		// 7 degrees of freedom: P(chi2 > 30) is about 1e-4.
		if chi > 30 {
			t.Fatalf("T=%v: chi-square %.1f, counts %v, want probabilities %v", T, chi, counts, want)
		}
	}
}

func softmax(l []float32, T float64) []float64 {
	m := math.Inf(-1)
	for _, v := range l {
		m = math.Max(m, float64(v))
	}
	p := make([]float64, len(l))
	sum := 0.0
	for i, v := range l {
		p[i] = math.Exp((float64(v) - m) / T)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// reference applies temperature, top-k, top-p and min-p the slow, obvious way: sort everything.
// It returns the kept ids in order, and for top-p the cumulative mass just before and at the
// boundary, so a comparison can forgive float rounding there.
func reference(l []float32, p Params) (kept []int32, before, at float64) {
	ids := make([]int32, 0, len(l))
	for i, v := range l {
		if !math.IsInf(float64(v), -1) {
			ids = append(ids, int32(i))
		}
	}
	sort.SliceStable(ids, func(a, b int) bool { return l[ids[a]] > l[ids[b]] })
	if p.TopK > 0 && p.TopK < len(ids) {
		ids = ids[:p.TopK]
	}
	m := float64(l[ids[0]])
	w := make([]float64, len(ids))
	total := 0.0
	for i, id := range ids {
		w[i] = math.Exp((float64(l[id]) - m) / float64(p.Temperature))
		total += w[i]
	}
	n := len(ids)
	if p.TopP < 1 {
		cum := 0.0
		for i := range ids {
			before = cum
			cum += w[i] / total
			if cum >= float64(p.TopP) {
				n, at = i+1, cum
				break
			}
		}
	}
	ids = ids[:n]
	if p.MinP > 0 {
		k := 0
		for i, id := range ids {
			if w[i] >= float64(p.MinP) {
				ids[k] = id
				k++
			}
		}
		ids = ids[:k]
	}
	return ids, before, at
}

func TestFiltersKeepTheRightSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []func(*Params){
		func(p *Params) { p.TopK = 1 },
		func(p *Params) { p.TopK = 40 },
		func(p *Params) { p.TopK = 1500 }, // beyond the heap: quickselect
		func(p *Params) { p.TopP = 0.9 },
		func(p *Params) { p.TopP = 0.3; p.Temperature = 0.6 },
		func(p *Params) { p.TopP = 0.999; p.Temperature = 1.8 },
		func(p *Params) { p.MinP = 0.1 },
		func(p *Params) { p.TopK = 50; p.TopP = 0.8 },
		func(p *Params) { p.TopK = 3000; p.TopP = 0.95; p.MinP = 0.02 },
		func(p *Params) { p.TopP = 0.5; p.MinP = 0.3; p.Temperature = 0.3 },
	}
	for trial := range 60 {
		V := []int{7, 100, 5000}[trial%3]
		l := randomLogits(rng, V, []float64{0.5, 2, 4}[trial%3])
		for i := 0; i < V/50; i++ { // a few masked tokens, as a grammar would leave
			l[rng.IntN(V)] = float32(math.Inf(-1))
		}
		for ci, mod := range cases {
			p := params(mod)
			s := New(p)
			got, total := s.filter(l)
			gotIDs := make([]int32, len(got))
			sum := 0.0
			for i, c := range got {
				gotIDs[i] = c.id
				sum += float64(c.v)
			}
			if math.Abs(sum-total) > 1e-6*total {
				t.Fatalf("case %d: total %v, weights sum to %v", ci, total, sum)
			}
			want, before, at := reference(l, p)
			slices.Sort(gotIDs)
			wantSorted := slices.Clone(want)
			slices.Sort(wantSorted)
			if !slices.Equal(gotIDs, wantSorted) {
				// Forgive only a top-p boundary that float32 weights put on the other side.
				borderline := p.TopP < 1 && (math.Abs(at-float64(p.TopP)) < 1e-5 ||
					math.Abs(before-float64(p.TopP)) < 1e-5)
				if !borderline || absDiff(len(gotIDs), len(want)) > 1 {
					t.Fatalf("trial %d case %d (V %d, %+v): kept %d tokens %v, want %d %v", trial, ci, V, p,
						len(gotIDs), head(gotIDs), len(want), head(wantSorted))
				}
			}
			// Draws never leave the kept set.
			inSet := map[int32]bool{}
			for _, id := range gotIDs {
				inSet[id] = true
			}
			s = New(params(func(q *Params) { *q = p; q.Seed = seed(uint64(trial)) }))
			for range 50 {
				if tok := s.Pick(l); !inSet[tok] {
					t.Fatalf("case %d: drew %d outside the kept set", ci, tok)
				}
			}
		}
	}
}

func absDiff(a, b int) int {
	if a > b {
		return a - b
	}
	return b - a
}

func head(ids []int32) []int32 { return ids[:min(len(ids), 10)] }

func TestFilterEdgeCases(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, tc := range []struct {
		name   string
		logits []float32
		mod    func(*Params)
		want   []int32 // kept ids, sorted
	}{
		{"all masked", []float32{-inf, -inf}, nil, nil},
		{"one finite", []float32{-inf, 3, -inf}, nil, []int32{1}},
		{"infinite logits share everything", []float32{1, inf, 2, inf}, nil, []int32{1, 3}},
		{"negligible tail dropped", []float32{0, 1000, -5, 999}, nil, []int32{1, 3}},
		{"top-k ties to lowest id", []float32{1, 2, 2, 2, 0}, func(p *Params) { p.TopK = 2 }, []int32{1, 2}},
		{"top-k beyond vocab", []float32{1, 2, 3}, func(p *Params) { p.TopK = 10 }, []int32{0, 1, 2}},
		{"min-p 1 keeps the top", []float32{1, 2, 3, 3}, func(p *Params) { p.MinP = 1 }, []int32{2, 3}},
		{"tiny top-p keeps the top", []float32{1, 2, 5, 3}, func(p *Params) { p.TopP = 1e-6 }, []int32{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(params(tc.mod))
			got, _ := s.filter(tc.logits)
			var ids []int32
			for _, c := range got {
				ids = append(ids, c.id)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tc.want) {
				t.Fatalf("kept %v, want %v", ids, tc.want)
			}
			tok := s.Pick(tc.logits)
			if (len(tc.want) == 0) != (tok == -1) || (tok >= 0 && !slices.Contains(tc.want, tok)) {
				t.Fatalf("Pick = %d, kept set %v", tok, tc.want)
			}
		})
	}
}

func TestSelection(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 300 {
		n := 1 + rng.IntN(400)
		c := make([]cand, n)
		for i := range c {
			c[i] = cand{int32(i), float32(rng.IntN(20))} // many ties
		}
		sorted := slices.Clone(c)
		slices.SortFunc(sorted, byBetter)

		k := rng.IntN(n + 1)
		top := slices.Clone(c)
		rng.Shuffle(n, func(i, j int) { top[i], top[j] = top[j], top[i] })
		selectTop(top, k)
		got := slices.Clone(top[:k])
		slices.SortFunc(got, byBetter)
		if !slices.Equal(got, sorted[:k]) {
			t.Fatalf("trial %d: selectTop(%d) kept %v, want %v", trial, k, got, sorted[:k])
		}

		total := 0.0
		for _, x := range c {
			total += float64(x.v)
		}
		target := rng.Float64() * total
		mass := slices.Clone(c)
		kept, sum := selectMass(mass, target)
		want, cum := 0, 0.0
		for want < n && (cum < target || want == 0) {
			cum += float64(sorted[want].v)
			want++
		}
		gotSet := slices.Clone(mass[:kept])
		slices.SortFunc(gotSet, byBetter)
		// Among equal weights any may be chosen, so compare weights, not ids.
		for i := range gotSet {
			if i >= want || gotSet[i].v != sorted[i].v {
				t.Fatalf("trial %d: selectMass kept %v, want the first %d of %v", trial, gotSet, want, sorted)
			}
		}
		if kept != want || math.Abs(sum-cum) > 1e-9*total {
			t.Fatalf("trial %d: selectMass kept %d (sum %v), want %d (sum %v)", trial, kept, sum, want, cum)
		}
	}
}

func TestPenalties(t *testing.T) {
	base := []float32{2, -2, 1, -1, 0.5, 3}
	for _, tc := range []struct {
		name    string
		mod     func(*Params)
		observe []int32
		accept  []int32
		history []int32
		want    []float32
	}{
		{"off", nil, []int32{0, 1}, []int32{2, 2}, []int32{3}, base},
		{"repetition on context and generated", func(p *Params) { p.RepetitionPenalty = 2 },
			[]int32{0, 1, 0}, []int32{3}, nil, []float32{1, -4, 1, -2, 0.5, 3}},
		{"repetition on history, once per token", func(p *Params) { p.RepetitionPenalty = 2 },
			[]int32{0}, nil, []int32{0, 2, 2, 1, 99, -1}, []float32{1, -4, 0.5, -1, 0.5, 3}},
		{"presence on generated only", func(p *Params) { p.PresencePenalty = 0.5 },
			[]int32{0}, []int32{2, 2, 4}, []int32{5}, []float32{2, -2, 0.5, -1, 0, 3}},
		{"frequency scales with count", func(p *Params) { p.FrequencyPenalty = 0.25 },
			nil, []int32{2, 2, 2, 1}, nil, []float32{2, -2.25, 0.25, -1, 0.5, 3}},
		{"negative presence encourages", func(p *Params) { p.PresencePenalty = -1 },
			nil, []int32{1}, nil, []float32{2, -1, 1, -1, 0.5, 3}},
		{"repetition then presence and frequency", func(p *Params) {
			p.RepetitionPenalty = 2
			p.PresencePenalty = 1
			p.FrequencyPenalty = 0.5
		}, nil, []int32{5, 5}, nil, []float32{2, -2, 1, -1, 0.5, 1.5 - 1 - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(params(tc.mod))
			s.Observe(tc.observe...)
			for _, tok := range tc.accept {
				s.Accept(tok)
			}
			got := slices.Clone(base)
			s.ApplyPenalties(got, tc.history)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("penalised %v, want %v", got, tc.want)
			}
			// Reset forgets everything.
			s.Reset()
			got = slices.Clone(base)
			s.ApplyPenalties(got, nil)
			if !slices.Equal(got, base) {
				t.Fatalf("after Reset %v, want %v", got, base)
			}
		})
	}
}

func TestPenaltiesSteerGreedy(t *testing.T) {
	s := New(params(func(p *Params) { p.Temperature = 0; p.FrequencyPenalty = 2 }))
	logits := []float32{5, 4.5, 1}
	var got []int32
	for range 4 {
		tok := s.Sample(slices.Clone(logits), nil)
		s.Accept(tok)
		got = append(got, tok)
	}
	// 0 wins, then 0 is at 3 < 4.5; 1 wins, then 1 is at 2.5 < 3; 0 again at 3 vs 2.5; then 0 at 1 vs 2.5.
	if want := []int32{0, 1, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("tokens %v, want %v", got, want)
	}
}

func TestLogprobs(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	s := New(DefaultParams())
	for _, V := range []int{1, 5, 1000} {
		l := randomLogits(rng, V, 3)
		if V > 3 {
			l[1] = l[3] // a tie in the top list if it lands there
			l[2] = float32(math.Inf(-1))
		}
		ref := softmax(l, 1)
		chosen := int32(rng.IntN(V))
		lp, top := s.Logprobs(l, chosen, 5, nil)
		if want := math.Log(ref[chosen]); math.Abs(float64(lp)-want) > 1e-4 {
			t.Fatalf("V %d: logprob %v, want %v", V, lp, want)
		}
		ids := make([]int32, V)
		for i := range ids {
			ids[i] = int32(i)
		}
		sort.SliceStable(ids, func(a, b int) bool { return ref[ids[a]] > ref[ids[b]] })
		finite := 0
		for _, v := range l {
			if !math.IsInf(float64(v), -1) {
				finite++
			}
		}
		if len(top) != min(5, finite) { // masked tokens are never listed
			t.Fatalf("V %d: %d top entries", V, len(top))
		}
		for i, e := range top {
			if e.Token != ids[i] || math.Abs(float64(e.Logprob)-math.Log(ref[ids[i]])) > 1e-4 {
				t.Fatalf("V %d: top[%d] = %+v, want token %d logprob %v", V, i, e, ids[i], math.Log(ref[ids[i]]))
			}
		}
	}
	masked := []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}
	if lp, top := s.Logprobs(masked, 0, 3, nil); !math.IsInf(float64(lp), -1) || len(top) != 0 {
		t.Fatalf("all masked: %v %v", lp, top)
	}
}

func TestExp(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x <= 0; x += 0.0137 {
		got, want := float64(expNonPos(x)), math.Exp(float64(x))
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 5e-7 {
		t.Fatalf("worst relative error %g", worst)
	}
	for _, x := range []float32{float32(math.Inf(-1)), float32(math.NaN()), -88, -1000} {
		if got := expNonPos(x); got != 0 {
			t.Fatalf("expNonPos(%v) = %v, want 0", x, got)
		}
	}
	// The hand-inlined copies must agree with expNonPos exactly.
	rng := rand.New(rand.NewPCG(15, 16))
	for range 2000 {
		m := float32(rng.NormFloat64() * 10)
		invT := float32(0.5 + rng.Float64())
		v := m - float32(rng.ExpFloat64()*20)
		c := []cand{{0, v}}
		if weigh(c, m, invT); c[0].v != expNonPos((v-m)*invT) {
			t.Fatalf("weigh(%v, %v, %v) = %v, expNonPos %v", v, m, invT, c[0].v, expNonPos((v-m)*invT))
		}
		if got := sumExp([]float32{v}, m); got != float64(expNonPos(v-m)) {
			t.Fatalf("sumExp(%v, %v) = %v, expNonPos %v", v, m, got, expNonPos(v-m))
		}
	}
	if expNonPos(0) != 1 {
		t.Fatal("expNonPos(0) != 1: min-p relies on the top weight being exactly 1")
	}
}

func TestNoAllocationsPerToken(t *testing.T) {
	logits := benchLogits()
	work := make([]float32, len(logits))
	for _, p := range benchParams() {
		s := New(p.p)
		// Warm-up grows the scratch to the vocabulary and the penalty tables to the largest id.
		// Accepting a token not seen before appends to the penalty lists, which grow by
		// doubling (amortised, a few times per request), so the measured loop accepts known ids.
		s.Accept(int32(len(logits) - 1))
		for i := range 3 {
			copy(work, logits)
			s.Sample(work, []int32{int32(i)})
			s.Accept(int32(i))
		}
		i := 0
		allocs := testing.AllocsPerRun(5, func() {
			copy(work, logits)
			s.Sample(work, []int32{1, 2, 3})
			s.Accept(int32(i % 3))
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per token", p.name, allocs)
		}
	}
	s := New(DefaultParams())
	dst := make([]TokenLogprob, 0, 20)
	s.Logprobs(logits, 0, 20, dst)
	if allocs := testing.AllocsPerRun(3, func() { s.Logprobs(logits, 0, 20, dst) }); allocs != 0 {
		t.Errorf("Logprobs: %v allocations", allocs)
	}
}

func TestStopChecker(t *testing.T) {
	type push struct {
		tok  int32
		text string
	}
	for _, tc := range []struct {
		name    string
		ids     []int32
		strs    []string
		pushes  []push
		emitted string // concatenation of everything returned, Flush included
		stopAt  int    // index of the push that stops, -1 for none
		reason  StopReason
	}{
		{"no stops", nil, nil, []push{{1, "Hello"}, {2, " world"}}, "Hello world", -1, StopReason{}},
		{"stop token drops its text", []int32{7}, nil, []push{{1, "a"}, {7, "</s>"}, {2, "b"}}, "a", 1,
			StopReason{Token: 7}},
		{"stop string in one token", nil, []string{"END"}, []push{{1, "abc"}, {2, "xENDy"}}, "abcx", 1,
			StopReason{Token: -1, String: "END"}},
		{"stop string across tokens", nil, []string{"</answer>"},
			[]push{{1, "42</"}, {2, "ans"}, {3, "wer>"}, {4, "more"}}, "42", 2, StopReason{Token: -1,
				String: "</answer>"}},
		{"false start released", nil, []string{"</answer>"}, []push{{1, "a</"}, {2, "b"}}, "a</b", -1, StopReason{}},
		{"partial at end flushed", nil, []string{"STOP"}, []push{{1, "xx"}, {2, "ST"}}, "xxST", -1, StopReason{}},
		{"earliest of several", nil, []string{"cd", "bcde"}, []push{{1, "ab"}, {2, "cdef"}}, "a", 1,
			StopReason{Token: -1, String: "bcde"}},
		{"earliest in one token", nil, []string{"cd", "bcde"}, []push{{1, "xcdbcde"}}, "x", 0,
			StopReason{Token: -1, String: "cd"}},
		{"held text before a stop token", []int32{0}, []string{"###"}, []push{{1, "x#"}, {2, "#"}, {0, ""}},
			"x##", 2, StopReason{Token: 0}},
		{"overlapping prefix", nil, []string{"aab"}, []push{{1, "a"}, {2, "a"}, {3, "a"}, {4, "b"}}, "a", 3,
			StopReason{Token: -1, String: "aab"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewStopChecker(tc.ids, tc.strs)
			var out string
			stopAt := -1
			for i, p := range tc.pushes {
				emit, stopped := c.Push(p.tok, p.text)
				out += emit
				// Never show any stop string or a prefix of one at the end of the stream so far.
				for _, s := range tc.strs {
					if strings.Contains(out, s) {
						t.Fatalf("push %d: emitted %q containing stop string %q", i, out, s)
					}
				}
				if stopped && stopAt < 0 {
					stopAt = i
				}
				if !stopped && stopAt >= 0 {
					t.Fatalf("push %d: not stopped after stopping", i)
				}
			}
			out += c.Flush()
			if out != tc.emitted || stopAt != tc.stopAt {
				t.Fatalf("emitted %q stop at %d, want %q at %d", out, stopAt, tc.emitted, tc.stopAt)
			}
			if r, ok := c.Stopped(); ok != (tc.stopAt >= 0) || r != tc.reason {
				t.Fatalf("Stopped() = %+v %v, want %+v", r, ok, tc.reason)
			}
		})
	}
}

// TestStopCheckerRandom streams random text in random token splits and checks the result
// against the obvious answer: everything before the first stop string, nothing held back
// wrongly.
func TestStopCheckerRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	stops := []string{"ab", "bba", "aaab"}
	for trial := range 2000 {
		var text []byte
		for range rng.IntN(30) {
			text = append(text, "abc"[rng.IntN(3)])
		}
		full := string(text)
		want, first := full, -1
		for _, s := range stops {
			if i := strings.Index(full, s); i >= 0 && (first < 0 || i < first) {
				first = i
			}
		}
		if first >= 0 {
			want = full[:first]
		}
		c := NewStopChecker(nil, stops)
		var out string
		stopped := false
		for i := 0; i < len(full) && !stopped; {
			n := min(1+rng.IntN(4), len(full)-i)
			var emit string
			emit, stopped = c.Push(1, full[i:i+n])
			out += emit
			if !stopped && !strings.HasPrefix(want, out) {
				t.Fatalf("trial %d: emitted %q, not a prefix of %q", trial, out, want)
			}
			i += n
		}
		out += c.Flush()
		if out != want || stopped != (first >= 0) {
			t.Fatalf("trial %d %q: emitted %q stopped %v, want %q", trial, full, out, stopped, want)
		}
	}
}

// benchLogits looks like a language model's output at Qwen's vocabulary size: a broad bulk and
// a handful of plausible tokens well above it.
func benchLogits() []float32 {
	rng := rand.New(rand.NewPCG(13, 14))
	l := randomLogits(rng, 151936, 2.5)
	for range 50 {
		l[rng.IntN(len(l))] = float32(8 + 10*rng.Float64())
	}
	return l
}

type benchCase struct {
	name string
	p    Params
}

func benchParams() []benchCase {
	return []benchCase{
		{"greedy", params(func(p *Params) { p.Temperature = 0 })},
		{"temperature", params(func(p *Params) { p.Temperature = 0.8; p.Seed = seed(1) })},
		{"temperature_top_p", params(func(p *Params) { p.Temperature = 0.7; p.TopP = 0.9; p.Seed = seed(1) })},
		{"top_k_40", params(func(p *Params) { p.TopK = 40; p.Temperature = 0.7; p.Seed = seed(1) })},
		{"penalties_top_k_top_p", params(func(p *Params) {
			p.TopK = 40
			p.TopP = 0.95
			p.RepetitionPenalty = 1.1
			p.FrequencyPenalty = 0.3
			p.Seed = seed(1)
		})},
	}
}

func BenchmarkSample(b *testing.B) {
	logits := benchLogits()
	for _, bc := range benchParams() {
		b.Run(bc.name, func(b *testing.B) {
			s := New(bc.p)
			s.Sample(logits, nil) // warm-up
			b.ReportAllocs()
			for b.Loop() {
				// Penalties write to the logits; the tables in these cases are empty, so the
				// slice is reused as is.
				s.Sample(logits, nil)
			}
		})
	}
}

func BenchmarkLogprobsTop20(b *testing.B) {
	logits := benchLogits()
	s := New(DefaultParams())
	dst := make([]TokenLogprob, 0, 20)
	b.ReportAllocs()
	for b.Loop() {
		s.Logprobs(logits, 0, 20, dst)
	}
}

// PickMasked draws what Pick draws on the masked logits, at every temperature.
func TestPickMaskedMatchesPick(t *testing.T) {
	const V = 5000
	logits := make([]float32, V)
	for i := range logits {
		logits[i] = float32((i*7919)%1000) / 100
	}
	mask := make([]uint64, (V+63)/64)
	for i := 0; i < V; i += 37 {
		mask[i/64] |= 1 << (uint(i) % 64)
	}
	MaskLogits(logits, mask)
	for i, l := range logits {
		if allowed := mask[i/64]&(1<<(uint(i)%64)) != 0; allowed == math.IsInf(float64(l), -1) {
			t.Fatalf("token %d: allowed %v, logit %v", i, allowed, l)
		}
	}
	var sc MaskScratch
	for _, temp := range []float32{0, 0.7, 1.5} {
		for seed := range uint64(20) {
			p := DefaultParams()
			p.Temperature, p.TopP, p.TopK = temp, 0.9, 40
			p.Seed = &seed
			a, b := New(p), New(p)
			want := a.Pick(logits)
			if got := b.PickMasked(logits, mask, &sc); got != want {
				t.Fatalf("T=%v seed %d: PickMasked %d, Pick %d", temp, seed, got, want)
			}
		}
	}
}
