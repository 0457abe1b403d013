package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// The adversarial-grammar benchmark (--adversarial): for each kind of costly structured-output
// request, a baseline run of plain streaming clients, then the same plain traffic while one more
// client sends that request back to back. A server that builds or runs a grammar on its engine
// step stalls every other stream meanwhile; the check is that the plain requests' TTFT and ITL
// p99 stay within --adversarial-max-ratio of the baseline's. The adversarial requests may get a
// 400 (a server may refuse a grammar too costly to build); the report says which.

// adversarialPattern is a string pattern of nested stars: a naive regex compiler or matcher
// does work exponential in its 19 repetitions.
const adversarialPattern = "(.*.*.*){19}"

// advSchema is the JSON Schema of adversarial kind "pattern", "enum" (varied strings, whose
// trie is large) or "enum-seq" (value-000000, value-000001, ...: a trie a server can keep).
func advSchema(kind string, enumSize int) json.RawMessage {
	var v any
	switch kind {
	case "pattern":
		v = map[string]any{"type": "string", "pattern": adversarialPattern}
	case "enum-seq":
		vals := make([]string, enumSize)
		for i := range vals {
			vals[i] = fmt.Sprintf("value-%06d", i)
		}
		v = map[string]any{"enum": vals}
	default:
		v = map[string]any{"enum": enumStrings(enumSize)}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings and maps of strings always marshal
	}
	return b
}

// advBody is the request body of an adversarial request: chat, the schema as response_format,
// seed 1, the server's default temperature, not streamed.
func advBody(model string, schema json.RawMessage, maxTokens int) []byte {
	b, err := json.Marshal(map[string]any{
		"model":      model,
		"messages":   []chatMessage{{Role: "user", Content: "Answer with one value that fits the schema."}},
		"max_tokens": maxTokens,
		"seed":       1,
		"response_format": map[string]any{"type": "json_schema",
			"json_schema": map[string]any{"name": "x", "schema": schema}},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// enumStrings returns n distinct strings of three shapes (a lower-case word first, a number
// first, a capitalised word first), with words and separators drawn at random: unlike
// "value-000000".."value-099999", they share no long prefix, so a trie of them branches early
// and often. Words hold neither digits nor separators, so the number in each makes it unique.
func enumStrings(n int) []string {
	r := rand.New(rand.NewPCG(uint64(n), 0xe0))
	seps := []string{"-", " ", "_", ".", "/", ":"}
	out := make([]string, n)
	for i := range out {
		a, b := words[r.IntN(len(words))], words[r.IntN(len(words))]
		sep := seps[r.IntN(len(seps))]
		switch i % 3 {
		case 0:
			out[i] = fmt.Sprintf("%s%s%s%s%d", a, sep, b, sep, i)
		case 1:
			out[i] = fmt.Sprintf("%d%s%s", i, sep, a)
		default:
			out[i] = fmt.Sprintf("%s%s%d%s", strings.ToUpper(a[:1])+a[1:], sep, i, b)
		}
	}
	return out
}

// advStats aggregates one adversarial client's requests.
type advStats struct {
	statuses map[int]int    // by HTTP status; 0: no answer (a transport error or --adversarial-timeout)
	finishes map[string]int // finish reasons of the 200s
	messages map[int]string // the first error message of each status but 200
	durs     []time.Duration
}

func newAdvStats() *advStats {
	return &advStats{statuses: map[int]int{}, finishes: map[string]int{}, messages: map[int]string{}}
}

func (s *advStats) add(r reply) {
	s.statuses[r.status]++
	s.durs = append(s.durs, r.dur)
	if r.status == 200 && r.err == "" {
		s.finishes[r.finish]++
	} else if _, ok := s.messages[r.status]; !ok {
		s.messages[r.status] = r.err
	}
}

func (s *advStats) count() int { return len(s.durs) }

// answers describes the status codes, e.g. "200 x3 (length 2, stop 1), 400 x1".
func (s *advStats) answers() string {
	var codes []int
	for c := range s.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		p := fmt.Sprintf("%d x%d", c, s.statuses[c])
		if c == 0 {
			p = fmt.Sprintf("no answer x%d", s.statuses[c])
		}
		if c == 200 && len(s.finishes) > 0 {
			p += " (" + countsString(s.finishes) + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// countsString writes a map of counts as "a 2, b 1", sorted by key.
func countsString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// adversary sends body back to back until stop is closed (the request in flight then finishes,
// within --adversarial-timeout).
func (b *bench) adversary(ctx context.Context, srv *server, body []byte, stop <-chan struct{}) *advStats {
	st := newAdvStats()
	for i := 0; i < 100000; i++ { // bounded; stop ends it long before
		select {
		case <-stop:
			return st
		case <-ctx.Done():
			return st
		default:
		}
		rctx, cancel := context.WithTimeout(ctx, b.cfg.advTimeout)
		r := postChat(rctx, b.hc, srv.url, body)
		cancel()
		st.add(r)
		// the first of each: a refusal may come back thousands of times
		if r.status != 200 && st.statuses[r.status] == 1 {
			logf("  adversarial request: HTTP %d after %s: %s", r.status, r.dur.Round(time.Millisecond),
				truncate([]byte(r.err), 160))
		}
	}
	return st
}

// advVerdict is the judgment of one loaded run against its baseline.
type advVerdict struct {
	ttftRatio, itlRatio float64 // loaded p99 over baseline p99; NaN when either has no sample
	ok                  bool
	problems            []string
}

// judgeAdversarial compares the plain requests of a loaded run with those of its baseline: both
// need samples and no failed request, and neither p99 may grow by more than maxRatio.
func judgeAdversarial(base, loaded *levelStats, maxRatio float64) advVerdict {
	v := advVerdict{ttftRatio: p99Ratio(base.ttft, loaded.ttft), itlRatio: p99Ratio(base.itl, loaded.itl)}
	if base.errors > 0 || loaded.errors > 0 {
		v.problems = append(v.problems, fmt.Sprintf("plain requests failed (%d in the baseline, %d with the adversary)",
			base.errors, loaded.errors))
	}
	for _, r := range []struct {
		name  string
		ratio float64
	}{{"TTFT", v.ttftRatio}, {"ITL", v.itlRatio}} {
		switch {
		case math.IsNaN(r.ratio):
			v.problems = append(v.problems, "no "+r.name+" samples to compare")
		case r.ratio > maxRatio:
			v.problems = append(v.problems, fmt.Sprintf("%s p99 %.2fx the baseline's (limit %.2gx)", r.name,
				r.ratio, maxRatio))
		}
	}
	v.ok = len(v.problems) == 0
	return v
}

// p99Ratio is pct(loaded, 99) / pct(base, 99); NaN when either is empty or the base is 0.
func p99Ratio(base, loaded []time.Duration) float64 {
	if len(base) == 0 || len(loaded) == 0 {
		return math.NaN()
	}
	b, l := pct(base, 99), pct(loaded, 99)
	if b <= 0 {
		return math.NaN()
	}
	return float64(l) / float64(b)
}

func ratioString(r float64) string {
	if math.IsNaN(r) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

// advRequests is the plain traffic of adversarial run number run: b.request with the
// adversarial max_tokens, and client numbers of their own so that no run reuses another's
// prompts (a prefix-cache hit would flatter its TTFT).
func (b *bench) advRequests(model string, run int) func(c, i int) chatRequest {
	return func(c, i int) chatRequest {
		r := b.request(model, 1000*(run+1)+c, i)
		r.MaxTokens = b.cfg.advTokens
		return r
	}
}

// settle waits, after a run, for the server to be idle (the gauges at 0) and, for a server
// this benchmark started, for its CPU use to drop under a quarter of a core over a second: an
// abandoned adversarial request may still be working. It reports whether the server settled.
func (b *bench) settle(ctx context.Context, srv *server) bool {
	b.hc.CloseIdleConnections()
	b.waitIdle(ctx, srv, nil, 0)
	if srv.pid() == 0 {
		return true
	}
	deadline := time.Now().Add(b.cfg.advTimeout)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		c0 := procCPU(srv.pid())
		time.Sleep(time.Second)
		c1 := procCPU(srv.pid())
		if c0 < 0 || c1 < 0 || c1-c0 < 250*time.Millisecond {
			return true
		}
	}
	return false
}

type advRun struct {
	kind   string
	plain  *levelStats
	adv    *advStats // nil for a baseline
	quiet  bool      // the server settled after the run
	judged advVerdict
}

// adversarialRun runs, for each kind, a baseline and a loaded run, and judges them.
func (b *bench) adversarialRun(ctx context.Context, srv *server) {
	cfg := &b.cfg
	var runs []advRun
	for k, kind := range cfg.advKinds {
		t0 := time.Now()
		body := advBody(srv.name, advSchema(kind, cfg.advEnum), cfg.advTokens)
		logf("adversarial %s: request body of %d bytes, built in %s", kind, len(body),
			time.Since(t0).Round(time.Millisecond))
		logf("adversarial %s: baseline, %d clients for %s...", kind, cfg.advClients, cfg.advDuration)
		base := b.drive(ctx, srv, cfg.advClients, cfg.advDuration, 0, 0, b.advRequests(srv.name, 2*k))
		logf("  %d requests, %d errors; TTFT p99 %s ms, ITL p99 %s ms", base.ok, base.errors,
			ms(pct(base.ttft, 99)), ms(pct(base.itl, 99)))
		runs = append(runs, advRun{kind: kind, plain: base, quiet: b.settle(ctx, srv)})
		if ctx.Err() != nil {
			break
		}

		logf("adversarial %s: the same traffic with one adversarial client...", kind)
		stop := make(chan struct{})
		done := make(chan *advStats, 1)
		go func() { done <- b.adversary(ctx, srv, body, stop) }()
		// A head start, so that the adversarial request is in the server when the plain ones come.
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
		}
		loaded := b.drive(ctx, srv, cfg.advClients, cfg.advDuration, 0, 0, b.advRequests(srv.name, 2*k+1))
		close(stop)
		logf("  %d requests, %d errors; TTFT p99 %s ms, ITL p99 %s ms; waiting for the adversarial request in "+
			"flight...",
			loaded.ok, loaded.errors, ms(pct(loaded.ttft, 99)), ms(pct(loaded.itl, 99)))
		adv := <-done
		logf("  adversarial requests: %s", adv.answers())
		v := judgeAdversarial(base, loaded, cfg.advRatio)
		runs = append(runs, advRun{kind: kind, plain: loaded, adv: adv, quiet: b.settle(ctx, srv), judged: v})
		if ctx.Err() != nil {
			break
		}
	}
	b.printAdversarial(runs)
}

func (b *bench) printAdversarial(runs []advRun) {
	cfg := &b.cfg
	b.printf("### Adversarial grammars\n\n")
	b.printf("For each kind: a baseline of %d streaming clients sending plain chat completions ", cfg.advClients)
	b.printf("back to back for %s (max_tokens %d, temperature %g), ", cfg.advDuration, cfg.advTokens, cfg.temp)
	b.printf("then the same traffic (fresh prompts) while one more client sends the adversarial request ")
	b.printf("back to back (not streamed; seed 1, max_tokens %d; ", cfg.advTokens)
	b.printf("it starts 0.5 s ahead, and the one in flight when the plain traffic ends finishes). Adversarial " +
		"requests: ")
	b.printf("`pattern` is `{\"type\":\"string\",\"pattern\":%q}`; ", adversarialPattern)
	b.printf("`enum` is `{\"enum\":[...]}` with %d distinct strings of varied shapes; `enum-seq` the same "+
		"number of `value-000000`, `value-000001`, ... ", cfg.advEnum)
	b.printf("Ratios are p99 with the adversary over the baseline's p99; the limit is %.2gx. ", cfg.advRatio)
	b.printf("Times in ms.\n\n")
	b.printf("| kind | run | plain requests | errors | TTFT p50 | TTFT p99 | ITL p50 | ITL p99 | ")
	b.printf("TTFT p99 ratio | ITL p99 ratio | adversarial requests | adversarial answers | ")
	b.printf("adversarial latency p50 / max | verdict |\n")
	b.printf("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|---|\n")
	failed := 0
	for _, r := range runs {
		st := r.plain
		run := "baseline"
		if r.adv != nil {
			run = "with adversary"
		}
		row := fmt.Sprintf("| %s | %s | %d | %d | %s | %s | %s | %s | ", r.kind, run, st.ok, st.errors,
			ms(pct(st.ttft, 50)), ms(pct(st.ttft, 99)), ms(pct(st.itl, 50)), ms(pct(st.itl, 99)))
		if r.adv == nil {
			row += "| | | | | |"
		} else {
			verdict := "PASS"
			if !r.judged.ok {
				verdict = "FAIL"
				failed++
			}
			lat := "-"
			if r.adv.count() > 0 {
				lat = ms(pct(r.adv.durs, 50)) + " / " + ms(slices.Max(r.adv.durs))
			}
			row += fmt.Sprintf("%s | %s | %d | %s | %s | %s |", ratioString(r.judged.ttftRatio),
				ratioString(r.judged.itlRatio),
				r.adv.count(), r.adv.answers(), lat, verdict)
		}
		b.printf("%s\n", row)
	}
	b.printf("\n")
	for _, r := range runs {
		if r.adv != nil {
			var codes []int
			for c := range r.adv.messages {
				codes = append(codes, c)
			}
			sort.Ints(codes)
			for _, c := range codes {
				b.printf("- %s, HTTP %d (first): %s\n", r.kind, c, truncate([]byte(r.adv.messages[c]), 300))
			}
		}
		if !r.quiet {
			b.printf("- after a %s run the server still used CPU %s later: the next run may be disturbed\n",
				r.kind, cfg.advTimeout)
		}
		for _, e := range r.plain.firstErrors {
			b.printf("- %s: a plain request failed: %s\n", r.kind, e)
		}
	}
	b.printf("\n")
	for _, r := range runs {
		if r.adv != nil && !r.judged.ok {
			b.failf("adversarial %s: %s", r.kind, strings.Join(r.judged.problems, "; "))
		}
	}
	if failed == 0 && len(runs) == 2*len(cfg.advKinds) {
		b.printf("Adversarial grammar check: PASS (every plain p99 within %.2gx of its baseline).\n\n", cfg.advRatio)
	} else {
		b.printf("Adversarial grammar check: FAIL (%d of %d loaded runs over the limit or without data).\n\n",
			failed, len(cfg.advKinds))
	}
}
