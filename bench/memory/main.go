// Command memory measures retrieval on long synthetic dialogues (memory/synth): every turn's
// user message and reply become chunks (hashed n-gram embeddings, memory/retrieve's hybrid
// search; a text already held is not added again, as the store keeps identical chunks once), and
// at each question's turn it checks whether the planted fact's turn is among the
// top k retrieved and whether it reaches a prompt assembled within the memory budget
// (memory/assemble), against the raw window: the last turns that fit the same budget.
//
//	go run ./bench/memory [--turns 1000] [--facts 100] [--budget 3500] [--k 5] [--seed 1] [--dialogues 5]
//	go run ./bench/memory --latency 10000,50000,200000 [--requests 200]
//
// The second form measures memory's time per request instead (latency.go).
//
// It prints a Markdown table: recall@k and precision@k of retrieval, and how often the fact is
// in the assembled prompt and in the raw window, for all questions, for facts older than the
// window, and for literal and paraphrased questions. Tokens are counted as words plus four a
// message (no tokenizer needed; the budget is the same for both).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/arborlabs/arbor/memory/assemble"
	"github.com/arborlabs/arbor/memory/embed"
	"github.com/arborlabs/arbor/memory/retrieve"
	"github.com/arborlabs/arbor/memory/synth"
	"github.com/arborlabs/arbor/runtime/chat"
)

func main() {
	turns := flag.Int("turns", 1000, "turns per dialogue")
	facts := flag.Int("facts", 100, "facts planted per dialogue")
	budget := flag.Int("budget", 3500, "prompt budget in tokens (words plus four a message)")
	k := flag.Int("k", 5, "chunks retrieved")
	seed := flag.Uint64("seed", 1, "first dialogue's seed")
	dialogues := flag.Int("dialogues", 5, "dialogues (seeds seed, seed+1, ...)")
	lat := flag.String("latency", "", "instead: measure memory's time per request in one session of each of "+
		"these chunk counts (e.g. 10000,50000,200000)")
	requests := flag.Int("requests", 200, "with --latency: requests measured per size")
	flag.Parse()
	if *lat != "" {
		sizes, err := parseSizes(*lat)
		if err == nil {
			err = latency(sizes, *requests)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/memory:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*turns, *facts, *budget, *k, *seed, *dialogues); err != nil {
		fmt.Fprintln(os.Stderr, "bench/memory:", err)
		os.Exit(1)
	}
}

// tally counts, for one group of questions, retrieval hits and where the fact ended up.
type tally struct {
	n, retrieved, relevantInTopK, inPrompt, inWindow int
}

func (t *tally) add(hit bool, relevant int, prompt, window bool) {
	t.n++
	if hit {
		t.retrieved++
	}
	t.relevantInTopK += relevant
	if prompt {
		t.inPrompt++
	}
	if window {
		t.inWindow++
	}
}

func words(msgs []chat.Message) (int, error) {
	n := 0
	for _, m := range msgs {
		n += 4 + len(strings.Fields(m.Content))
	}
	return n, nil
}

func run(turns, facts, budget, k int, seed uint64, dialogues int) error {
	ctx := context.Background()
	emb := embed.NewHashed(0)
	groups := map[string]*tally{}
	order := []string{"all", "older than the window", "literal", "paraphrased"}
	for _, g := range order {
		groups[g] = &tally{}
	}
	var searchTime time.Duration
	searches := 0
	for d := range dialogues {
		dlg, err := synth.Generate(synth.Options{Turns: turns, Facts: facts, Seed: seed + uint64(d)})
		if err != nil {
			return err
		}
		r := retrieve.NewRetriever(emb.Dim())
		held := map[string]string{} // text -> the id of its chunk: the store keeps one per text
		asked := map[int]synth.Question{}
		for _, q := range dlg.Questions {
			asked[q.AskedAt] = q
		}
		for i, tr := range dlg.Turns {
			if q, ok := asked[i]; ok {
				start := time.Now()
				vec := emb.EmbedOne(q.Text)
				res, err := r.Search(ctx, q.Text, vec, k)
				if err != nil {
					return err
				}
				searchTime += time.Since(start)
				searches++
				// The fact's chunk: the first of its text (a fact restated is held once).
				want := held[dlg.Turns[q.FactTurn].User]
				hit, relevant := false, 0
				var chunks []assemble.Chunk
				for _, h := range res {
					if h.ID == want {
						hit = true
						relevant++
					}
					role, text := chunkText(dlg, h.ID)
					chunks = append(chunks, assemble.Chunk{Role: role, Text: text, Similarity: h.Fused})
				}
				// The prompt with memory: retrieved chunks, the last two turns, the question.
				var recent []chat.Message
				for j := max(0, i-2); j < i; j++ {
					recent = append(recent, chat.Message{Role: "user", Content: dlg.Turns[j].User},
						chat.Message{Role: "assistant", Content: dlg.Turns[j].Reply})
				}
				a, err := assemble.Assemble(assemble.Input{Chunks: chunks, Recent: recent,
					New: []chat.Message{{Role: "user", Content: q.Text}}}, budget, words)
				if err != nil {
					return err
				}
				fact := dlg.Turns[q.FactTurn].User
				inPrompt := false
				for _, m := range a.Messages {
					inPrompt = inPrompt || strings.Contains(m.Content, fact)
				}
				// The raw window: the most recent turns that fit the same budget.
				used, _ := words([]chat.Message{{Role: "user", Content: q.Text}})
				first := i
				for j := i - 1; j >= 0; j-- {
					n, _ := words([]chat.Message{{Role: "user", Content: dlg.Turns[j].User}, {Role: "assistant", Content: dlg.Turns[j].Reply}})
					if used+n > budget {
						break
					}
					used += n
					first = j
				}
				inWindow := q.FactTurn >= first
				groups["all"].add(hit, relevant, inPrompt, inWindow)
				if !inWindow {
					groups["older than the window"].add(hit, relevant, inPrompt, inWindow)
				}
				if q.Paraphrased {
					groups["paraphrased"].add(hit, relevant, inPrompt, inWindow)
				} else {
					groups["literal"].add(hit, relevant, inPrompt, inWindow)
				}
			}
			for _, c := range []struct{ id, text string }{{fmt.Sprintf("%d/u", i), tr.User}, {fmt.Sprintf("%d/a", i), tr.Reply}} {
				if _, ok := held[c.text]; ok {
					continue
				}
				held[c.text] = c.id
				if err := r.Add(c.id, c.text, emb.EmbedOne(c.text)); err != nil {
					return err
				}
			}
		}
	}
	fmt.Printf("Memory retrieval on synthetic dialogues: %d dialogues of %d turns, %d facts each (seeds %d-%d), "+
		"hashed n-gram embeddings, hybrid search (cosine + BM25, reciprocal-rank fusion), top %d, budget %d tokens; "+
		"mean search %.2f ms over %d searches\n\n", dialogues, turns, facts, seed, seed+uint64(dialogues)-1, k, budget,
		float64(searchTime.Microseconds())/1e3/float64(max(1, searches)), searches)
	fmt.Printf("| questions | n | recall@%d | precision@%d | fact in the memory prompt | fact in the raw window |\n", k, k)
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, g := range order {
		t := groups[g]
		if t.n == 0 {
			continue
		}
		fmt.Printf("| %s | %d | %.2f | %.2f | %.2f | %.2f |\n", g, t.n, float64(t.retrieved)/float64(t.n),
			float64(t.relevantInTopK)/float64(t.n*k), float64(t.inPrompt)/float64(t.n), float64(t.inWindow)/float64(t.n))
	}
	return nil
}

// chunkText is a chunk id's role and text ("<turn>/u" or "<turn>/a").
func chunkText(d *synth.Dialogue, id string) (string, string) {
	var turn int
	var side string
	fmt.Sscanf(id, "%d/%s", &turn, &side)
	if side == "u" {
		return "user", d.Turns[turn].User
	}
	return "assistant", d.Turns[turn].Reply
}
