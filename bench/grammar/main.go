// Command grammar measures what constrained decoding adds to a decode step: it builds a
// qwen2.5-0.5b-shaped model with random q8_0 weights and the Qwen3 tokenizer's vocabulary in
// memory, then decodes with and without a JSON-Schema grammar, runs interleaved (the CPU is
// shared and noisy), and prints the ratio of the mean step times (goal: at most 1.05).
//
//	go run ./bench/grammar [-tokens 64] [-rounds 4] [-temp 1] [-threads 0]
//
// A step is timed from one emitted token to the next, so it covers the forward pass, sampling
// and the grammar (the check of the drawn token, and when it is rejected the mask, the masked
// logits and the second draw). With random weights nearly every draw is rejected: the worst
// case for the grammar.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/runtime/sample"
)

// schema keeps generation going (unbounded arrays and strings) through every kind of state:
// object keys, free strings, bounded numbers, enums, nested arrays.
const schema = `{"type":"object","properties":{
 "items":{"type":"array","minItems":3,"items":{"type":"object","properties":{
   "name":{"type":"string"},"qty":{"type":"integer","minimum":0,"maximum":1000},
   "price":{"type":"number","minimum":0},
   "tags":{"type":"array","items":{"type":"string","enum":["new","used","refurbished"]}},
   "note":{"type":["string","null"]}},"required":["name","qty","price","tags","note"],"additionalProperties":false}},
 "total":{"type":"number"}},"required":["items","total"],"additionalProperties":false}`

func main() {
	tokens := flag.Int("tokens", 64, "tokens generated per run")
	rounds := flag.Int("rounds", 4, "interleaved rounds (each: one free run, one grammar run)")
	temp := flag.Float64("temp", 1, "sampling temperature")
	threads := flag.Int("threads", 0, "backend threads (0: all cores)")
	flag.Parse()
	if err := run(*tokens, *rounds, float32(*temp), *threads); err != nil {
		fmt.Fprintln(os.Stderr, "bench/grammar:", err)
		os.Exit(1)
	}
}

func run(tokens, rounds int, temp float32, threads int) error {
	tok, err := demo.Tokenizer()
	if err != nil {
		return err
	}
	cfg, err := model.Shape("qwen2.5-0.5b")
	if err != nil {
		return err
	}
	start := time.Now()
	w, err := model.NewRandom(&cfg, model.Q8_0, 1)
	if err != nil {
		return fmt.Errorf("random weights: %w", err)
	}
	m := &model.Model{Config: cfg, Weights: *w, Tokenizer: tok}
	be, err := cpu.New(m, cpu.Options{Threads: threads, PageSize: 16, NumPages: 64})
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	defer be.Close()
	eng := engine.New(be, tok, engine.Options{})
	defer eng.Shutdown(context.Background())
	fmt.Printf("model qwen2.5-0.5b q8_0 (random weights, vocab %d) built in %v\n", cfg.VocabSize,
		time.Since(start).Round(time.Millisecond))

	t0 := time.Now()
	vocab := eng.GrammarVocab()
	fmt.Printf("grammar vocabulary: %d tokens, %d trie nodes, built in %v\n", vocab.Size(), vocab.TrieNodes(),
		time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	g, err := grammar.CompileSchema([]byte(schema))
	if err != nil {
		return err
	}
	fmt.Printf("schema compiled in %v\n", time.Since(t0).Round(time.Microsecond))

	prompt := tok.Encode("Write the order as JSON: three items with names, quantities, prices and tags.")
	var outputs [][]int32
	gen := func(gr *grammar.Grammar, seed uint64) ([]time.Duration, string, error) {
		p := sample.DefaultParams()
		p.Temperature = temp
		p.Seed = &seed
		var stamps []time.Time
		res, err := eng.Generate(context.Background(), engine.Request{Prompt: prompt, MaxTokens: tokens,
			Sampling: p, Grammar: gr},
			func(ev engine.Event) error {
				if ev.Token >= 0 {
					stamps = append(stamps, time.Now())
				}
				return nil
			})
		if err != nil {
			return nil, "", err
		}
		if gr != nil {
			outputs = append(outputs, res.IDs)
		}
		var steps []time.Duration
		for i := 1; i < len(stamps); i++ {
			steps = append(steps, stamps[i].Sub(stamps[i-1]))
		}
		return steps, res.FinishReason, nil
	}
	var free, constrained []time.Duration
	for r := 0; r < rounds; r++ {
		for _, withGrammar := range []bool{r%2 == 1, r%2 == 0} { // alternate which goes first
			var gr *grammar.Grammar
			if withGrammar {
				gr = g
			}
			steps, reason, err := gen(gr, uint64(r))
			if err != nil {
				return err
			}
			if withGrammar {
				constrained = append(constrained, steps...)
			} else {
				free = append(free, steps...)
			}
			fmt.Printf("round %d grammar=%-5v %3d steps, mean %6.2f ms, median %6.2f ms (finish %s)\n", r,
				withGrammar, len(steps), ms(mean(steps)), ms(median(steps)), reason)
		}
	}
	hits, misses := g.CacheStats()
	fmt.Printf("masks: %d built by a trie walk, %d from the cache\n", misses, hits)
	mf, mc := mean(free), mean(constrained)
	fmt.Printf("decode step: free %.2f ms, with grammar %.2f ms (medians %.2f / %.2f)\n", ms(mf), ms(mc),
		ms(median(free)), ms(median(constrained)))
	fmt.Printf("ratio (mean) %.3f   ratio (median) %.3f   goal <= 1.05\n", float64(mc)/float64(mf),
		float64(median(constrained))/float64(median(free)))

	// The grammar's own cost, without the noise of the forward pass: replay the constrained
	// outputs on a freshly compiled grammar (cold mask cache), building the mask at every step
	// (as if every draw were rejected), masking the logits and drawing again.
	cost, maskCost, n := time.Duration(0), time.Duration(0), 0
	logits := make([]float32, cfg.VocabSize)
	for i := range logits {
		logits[i] = float32(i%97) / 10
	}
	work := make([]float32, len(logits))
	var scratch sample.MaskScratch
	for _, ids := range outputs {
		fresh, err := grammar.CompileSchema([]byte(schema))
		if err != nil {
			return err
		}
		mt := fresh.NewMatcher(vocab)
		mask := make([]uint64, vocab.MaskWords())
		sp := sample.DefaultParams()
		sp.Temperature = temp
		smp := sample.New(sp)
		for _, id := range ids {
			copy(work, logits)
			t := time.Now()
			_ = mt.Allowed(id)
			if err := mt.FillMask(context.Background(), mask); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			maskCost += time.Since(t)
			sample.MaskLogits(work, mask)
			smp.PickMasked(work, mask, &scratch)
			cost += time.Since(t)
			n++
			if err := mt.Accept(id); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
		}
	}
	if n > 0 {
		per := cost / time.Duration(n)
		fmt.Printf("grammar work per step (replayed, mask built every step, cold cache): %.3f ms = %.2f%% of a "+
			"free step -> ratio %.3f\n",
			ms(per), 100*float64(per)/float64(mf), float64(mf+per)/float64(mf))
		fmt.Printf("  of which the check and the mask: %.3f ms; masking the logits and the second draw: %.3f ms\n",
			ms(maskCost/time.Duration(n)), ms((cost-maskCost)/time.Duration(n)))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var s time.Duration
	for _, x := range d {
		s += x
	}
	return s / time.Duration(len(d))
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	c := append([]time.Duration(nil), d...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return c[len(c)/2]
}
