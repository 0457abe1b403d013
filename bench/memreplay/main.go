// Command memreplay replays LoCoMo's or LongMemEval's conversations through Arbor's session
// API and scores what retrieval brings back against their evidence: no judge model needed.
//
//	go run ./bench/memreplay --format locomo|longmemeval --data FILE [--k 5,10] [--limit N]
//	    [--url http://host:port --api-key KEY] [--max-request-bytes 4194304] [--ctx 4096] [--keep]
//
// Each conversation goes into its own session ("<format>-<conversation id>-<n>") as one chat
// request (POST /v1/chat/completions with session_id, max_tokens 1) whose messages are the
// whole history, sessions concatenated, then a final user message: the server backfills every
// turn of the history (a user's messages and the replies after them), as it does for any
// client that sends its history again. A history over --max-request-bytes is sent over
// several requests, each starting with the previous request's stored last turn so that the
// server sees the history continue. The stored turn count is checked against the replay's.
// Then each question is asked of GET /v1/sessions/{id}/memory?query=QUESTION&k=K, each hit is
// mapped back to the dataset messages its text holds (one message, or a turn side's several
// messages joined with "\n"), and the program prints turn-level recall@k (the share of the
// question's evidence messages among the top k hits' messages) and session-level recall@k (the
// share of its evidence sessions among theirs), overall and per category, with the memory
// GET's latency.
//
// Without --url it starts an Arbor server in this process: session memory on a Badger store
// in a temporary directory with the default hashed n-gram embedder, and the built-in demo
// model (random weights) on the cpu backend as the generator: one token a request, the
// cheapest generation that still goes through the engine.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	var opt Options
	flag.StringVar(&opt.Format, "format", "", "locomo or longmemeval")
	flag.StringVar(&opt.Data, "data", "", "the dataset file (locomo10.json, longmemeval_s.json, ...)")
	ks := flag.String("k", "5,10", "the k of recall@k, comma-separated (1 to 100)")
	flag.StringVar(&opt.URL, "url", "", "a running Arbor server's base URL (default: start one in this process)")
	flag.StringVar(&opt.APIKey, "api-key", os.Getenv("ARBOR_API_KEY"), "the server's API key (default $ARBOR_API_KEY)")
	flag.IntVar(&opt.Limit, "limit", 0, "replay at most this many conversations (0: all)")
	flag.IntVar(&opt.MaxRequestBytes, "max-request-bytes", 4<<20, "a chat request's messages at most (JSON bytes); "+
		"a longer history is sent over several requests")
	flag.IntVar(&opt.Ctx, "ctx", 4096, "the in-process demo engine's context (tokens)")
	flag.BoolVar(&opt.Keep, "keep", false, "leave the replayed sessions on the server")
	quiet := flag.Bool("quiet", false, "no per-conversation progress on stderr")
	flag.Parse()
	if opt.Format == "" || opt.Data == "" {
		fmt.Fprintln(os.Stderr, "memreplay: --format and --data are required")
		flag.Usage()
		os.Exit(2)
	}
	for _, f := range strings.Split(*ks, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fmt.Fprintf(os.Stderr, "memreplay: --k: %q is not an integer\n", f)
			os.Exit(2)
		}
		opt.Ks = append(opt.Ks, k)
	}
	if !*quiet {
		opt.Progress = os.Stderr
	}
	rep, err := Run(context.Background(), opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "memreplay:", err)
		os.Exit(1)
	}
	rep.Print(os.Stdout)
}

// Print writes the report as Markdown.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "memreplay: %s replayed through the session API of %s\n", r.Data, r.Target)
	fmt.Fprintf(w, "embedder: %s; generator: %s\n", r.Embedder, r.Generator)
	fmt.Fprintf(w, "%d conversations, %d chat requests, %d turns stored (turn_count checked), %d chunks held of %d "+
		"distinct texts sent, replay %s; %d evidence ids name nothing in their conversation (left out)\n\n",
		r.Conversations, r.Requests, r.Turns, r.Chunks, r.ChunkTexts, r.Replay.Round(time.Millisecond), r.UnknownEvidence)
	mean, p50, p95 := latency(r.Latencies)
	fmt.Fprintln(w, "| format | conversations | questions | k | turn recall@k | session recall@k | memory GET mean | memory GET p50 | p95 |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, k := range r.Ks {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %s | %s | %s | %s | %s |\n", r.Format, r.Conversations, r.Questions, k,
			ratio(r.All.Turn[i], r.All.TurnN), ratio(r.All.Session[i], r.All.SessionN), ms(mean), ms(p50), ms(p95))
	}
	if r.All.TurnN < r.Questions || r.All.SessionN < r.Questions {
		fmt.Fprintf(w, "\n(turn recall over the %d questions with message evidence, session recall over the %d with "+
			"session evidence)\n", r.All.TurnN, r.All.SessionN)
	}
	if len(r.Categories) == 0 {
		return
	}
	fmt.Fprintln(w, "\n| category | questions | k | turn recall@k | session recall@k |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, c := range r.Categories {
		s := r.ByCategory[c]
		for i, k := range r.Ks {
			fmt.Fprintf(w, "| %s | %d | %d | %s | %s |\n", c, s.Questions, k, ratio(s.Turn[i], s.TurnN),
				ratio(s.Session[i], s.SessionN))
		}
	}
}

// Recall is the mean turn and session recall at Ks[i] over all questions.
func (r *Report) Recall(i int) (turn, sess float64) {
	return r.All.Turn[i] / float64(max(r.All.TurnN, 1)), r.All.Session[i] / float64(max(r.All.SessionN, 1))
}

func ratio(sum float64, n int) string {
	if n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", sum/float64(n))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func latency(ds []time.Duration) (mean, p50, p95 time.Duration) {
	if len(ds) == 0 {
		return
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum / time.Duration(len(s)), s[len(s)/2], s[min(len(s)-1, len(s)*95/100)]
}
