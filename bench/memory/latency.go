package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arborlabs/arbor/memory"
	"github.com/arborlabs/arbor/memory/embed"
	"github.com/arborlabs/arbor/memory/session"
	"github.com/arborlabs/arbor/memory/synth"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/model/demo"
)

// latency measures what session memory adds to a request in one session of n chunks, for each
// n: a Badger store is filled with n chunks (texts of synthetic dialogues, hashed n-gram
// embeddings), then requests go through session.Manager as the server sends them (Begin: wait,
// reconcile, retrieve, assemble through the demo model's chat template and tokenizer; Commit:
// embed the reply, one synced write; Close). It prints p50 and p99 of the retrieval, of the
// rest of Begin, and of Commit, and the time the first request took to load the session.
func latency(sizes []int, requests int) error {
	ctx := context.Background()
	tok, err := demo.Tokenizer()
	if err != nil {
		return err
	}
	tmpl, err := chat.Compile(tok.ChatTemplate())
	if err != nil {
		return err
	}
	specials := chat.NewSpecials(tok.SpecialTokens())
	count := func(msgs []chat.Message) (int, error) {
		p, err := tmpl.RenderPrompt(chat.Input{Messages: msgs, AddGenerationPrompt: true}, specials)
		if err != nil {
			return 0, err
		}
		return len(tok.EncodeMixed(p.Text, p.Data)), nil
	}
	emb := embed.NewHashed(0)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fmt.Printf("Session memory's time per request, one session of n chunks (hashed n-gram embeddings, %d dims; "+
		"Badger store on local disk; prompt counted with the demo model's chat template and tokenizer; "+
		"%d requests after the first)\n\n", emb.Dim(), requests)
	fmt.Println("| chunks | first request's load | retrieval p50 | p99 | rest of Begin p50 | p99 | Commit (synced write) p50 | p99 | wait for the last turn's summary p50 |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range sizes {
		dir, err := os.MkdirTemp("", "arbor-memlat-")
		if err != nil {
			return err
		}
		store, err := memory.OpenBadger(dir, memory.Options{Logger: quiet, GCInterval: -1})
		if err != nil {
			return err
		}
		owner := memory.OwnerOf("")
		if err := fill(ctx, store, owner, emb, n); err != nil {
			return err
		}
		m, err := session.New(session.Config{Store: store, Embedder: emb, Log: quiet})
		if err != nil {
			return err
		}
		dlg, err := synth.Generate(synth.Options{Turns: 400, Facts: 100, Seed: 99})
		if err != nil {
			return err
		}
		var retr, rest, commit, wait []time.Duration
		var load time.Duration
		for i := range requests + 1 {
			q := dlg.Questions[i%len(dlg.Questions)].Text
			start := time.Now()
			p, err := m.Begin(ctx, session.Request{Owner: owner, Session: "long", Budget: 3500, Count: count,
				Messages: []chat.Message{{Role: "user", Content: q}}})
			if err != nil {
				return err
			}
			if i == 0 {
				load = time.Since(start)
			} else {
				retr, rest, wait = append(retr, p.Retrieval), append(rest, p.Overhead), append(wait, p.SummaryWait)
			}
			cstart := time.Now()
			if err := p.Commit(ctx, "I remember that."); err != nil {
				return err
			}
			if i > 0 {
				commit = append(commit, time.Since(cstart))
			}
			p.Close()
		}
		m.Close()
		store.Close()
		os.RemoveAll(dir)
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, ms(load), ms(pct(retr, 50)), ms(pct(retr, 99)),
			ms(pct(rest, 50)), ms(pct(rest, 99)), ms(pct(commit, 50)), ms(pct(commit, 99)), ms(pct(wait, 50)))
	}
	return nil
}

// fill stores n chunks in session "long": turns of 1,000 chunks each (a turn may carry many),
// texts from synthetic dialogues made unique by their number.
func fill(ctx context.Context, store memory.Store, owner memory.Owner, emb *embed.Hashed, n int) error {
	if _, _, err := store.CreateOrGetSession(ctx, owner, "long"); err != nil {
		return err
	}
	dlg, err := synth.Generate(synth.Options{Turns: min(100_000, max(n/2, 100)), Seed: 7})
	if err != nil {
		return err
	}
	for done := 0; done < n; {
		batch := min(1000, n-done)
		chunks := make([]memory.Chunk, batch)
		for j := range chunks {
			i := done + j
			tr := dlg.Turns[(i/2)%len(dlg.Turns)]
			text, role := tr.User, memory.RoleUser
			if i%2 == 1 {
				text, role = tr.Reply, memory.RoleAssistant
			}
			text = "(" + strconv.Itoa(i) + ") " + text
			chunks[j] = memory.Chunk{Role: role, Text: text, Vector: memory.Quantize(emb.EmbedOne(text))}
		}
		if _, err := store.AppendTurn(ctx, owner, "long", memory.Turn{User: "bulk " + strconv.Itoa(done), Reply: "ok"}, chunks); err != nil {
			return err
		}
		done += batch
	}
	return nil
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// parseSizes reads "10000,50000,200000".
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--latency: %q is not a positive chunk count", f)
		}
		out = append(out, n)
	}
	return out, nil
}
