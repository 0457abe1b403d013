package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/memory/dataset"
	"github.com/arborlabs/arbor/memory/reconcile"
	"github.com/arborlabs/arbor/runtime/chat"
)

const testdata = "../../memory/dataset/testdata/"

func run(t *testing.T, opt Options) *Report {
	t.Helper()
	rep, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Print(&b)
	t.Log("\n" + b.String())
	return rep
}

// TestReplayFixtures replays both fixtures through an in-process server. Each fixture
// conversation holds at most 8 chunks, so the top 10 hold them all: recall@10 below 1 would
// mean the backfill lost an evidence message or a hit was not mapped back to its messages
// (LoCoMo's D2:2 and D10:1 share one chunk, a user side of two messages). Recall@1 is what
// the hashed embedder and BM25 give on these questions (0.5 for both formats' message
// evidence, deterministic).
func TestReplayFixtures(t *testing.T) {
	for _, c := range []struct {
		format, file          string
		convs, questions, req int
		turns                 int
		turn1, sess1          float64
		maxBytes              int
	}{
		{"locomo", "locomo_mini.json", 1, 4, 1, 3, 0.5, 0.875, 0},
		{"longmemeval", "longmemeval_mini.json", 2, 2, 2, 5, 0.5, 0.5, 0},
		// Split at every turn boundary: 3 requests, each after the first resending the
		// previous one's last turn; 2 more turns (the markers' turns).
		{"locomo", "locomo_mini.json", 1, 4, 3, 5, 0.5, 0.875, 1},
	} {
		t.Run(fmt.Sprintf("%s-%d", c.format, c.maxBytes), func(t *testing.T) {
			rep := run(t, Options{Format: c.format, Data: testdata + c.file, Ks: []int{1, 10}, MaxRequestBytes: c.maxBytes})
			if rep.Conversations != c.convs || rep.Questions != c.questions || rep.Requests != c.req ||
				rep.Turns != c.turns || len(rep.Latencies) != c.questions {
				t.Fatalf("%d conversations, %d questions, %d requests, %d turns, %d latencies", rep.Conversations,
					rep.Questions, rep.Requests, rep.Turns, len(rep.Latencies))
			}
			if rep.All.TurnN != c.questions || rep.All.SessionN != c.questions || rep.UnknownEvidence != 0 {
				t.Fatalf("questions scored: %d turn, %d session; %d unknown evidence ids", rep.All.TurnN,
					rep.All.SessionN, rep.UnknownEvidence)
			}
			if turn, sess := rep.Recall(1); turn != 1 || sess != 1 {
				t.Fatalf("recall@10: turn %.3f, session %.3f, want 1", turn, sess)
			}
			if turn, sess := rep.Recall(0); turn < c.turn1 || sess < c.sess1 {
				t.Fatalf("recall@1: turn %.3f, session %.3f, want at least %.3f, %.3f", turn, sess, c.turn1, c.sess1)
			}
			if rep.Embedder != "hashed-ngram-v1-512" || !strings.Contains(rep.Generator, "arbor-demo") {
				t.Fatalf("embedder %q, generator %q", rep.Embedder, rep.Generator)
			}
		})
	}
}

// TestReplayLong replays a generated LoCoMo-format conversation of 19 sessions of 32 messages
// (about LoCoMo's size: 305 turns) whose questions quote six words of one message among 24
// recurring words: retrieval must find the message among 600 near-alike ones. Observed on
// this file (40 questions): recall@5 0.975, recall@1 0.600; the bounds leave room for ties.
func TestReplayLong(t *testing.T) {
	path := filepath.Join(t.TempDir(), "long.json")
	writeLong(t, path, 2)
	rep := run(t, Options{Format: "locomo", Data: path, Ks: []int{1, 5}})
	if rep.Turns != 2*305 || rep.Questions < 20 {
		t.Fatalf("%d turns, %d questions", rep.Turns, rep.Questions)
	}
	if turn, _ := rep.Recall(1); turn < 0.85 {
		t.Fatalf("recall@5 %.3f", turn)
	}
	if turn, _ := rep.Recall(0); turn < 0.4 {
		t.Fatalf("recall@1 %.3f", turn)
	}
	// The same over requests of at most 20 KB: the stored turns continue one another.
	split := run(t, Options{Format: "locomo", Data: path, Ks: []int{1, 5}, MaxRequestBytes: 20000})
	if split.Requests <= 2 || split.Turns != rep.Turns+split.Requests-2 {
		t.Fatalf("%d requests, %d turns", split.Requests, split.Turns)
	}
}

func writeLong(t *testing.T, path string, convs int) {
	words := strings.Fields("apple river garden train violin mountain coffee book paris dog cat pottery museum " +
		"soccer piano sunset bakery hiking jazz novel camera beach winter tulip")
	rng := rand.New(rand.NewPCG(1, 2))
	var items []map[string]any
	for c := range convs {
		conv := map[string]any{"speaker_a": "Ann", "speaker_b": "Bob"}
		var qa []map[string]any
		for s := 1; s <= 19; s++ {
			var turns []map[string]string
			for j := 1; j <= 32; j++ {
				sp := "Ann"
				if j%2 == 0 {
					sp = "Bob"
				}
				ws := make([]string, 15)
				for i := range ws {
					ws[i] = words[rng.IntN(len(words))]
				}
				id := fmt.Sprintf("D%d:%d", s, j)
				turns = append(turns, map[string]string{"speaker": sp, "dia_id": id, "text": sp + " says " + strings.Join(ws, " ")})
				if rng.IntN(30) == 0 {
					qa = append(qa, map[string]any{"question": "What about " + strings.Join(ws[:6], " ") + "?",
						"answer": "x", "evidence": []string{id}, "category": 1 + rng.IntN(4)})
				}
			}
			conv[fmt.Sprintf("session_%d", s)] = turns
		}
		items = append(items, map[string]any{"sample_id": fmt.Sprintf("long-%d", c), "conversation": conv, "qa": qa})
	}
	b, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGroupTurnsIsReconciles checks that the replay groups a history into turns as the
// server's reconcile does (the chunk texts it maps back are those).
func TestGroupTurnsIsReconciles(t *testing.T) {
	var convs []dataset.Conversation
	collect := func(c dataset.Conversation) error { convs = append(convs, c); return nil }
	for name, read := range map[string]func(*os.File, func(dataset.Conversation) error) error{
		"locomo_mini.json":      func(f *os.File, fn func(dataset.Conversation) error) error { return dataset.ReadLoCoMo(f, fn) },
		"longmemeval_mini.json": func(f *os.File, fn func(dataset.Conversation) error) error { return dataset.ReadLongMemEval(f, fn) },
	} {
		f, err := os.Open(testdata + name)
		if err != nil {
			t.Fatal(err)
		}
		err = read(f, collect)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range convs {
		ms := append(flatten(c), msg{role: "assistant", text: "r"}, msg{role: "user", text: endMarker})
		var cm []chat.Message
		for _, m := range ms {
			cm = append(cm, chat.Message{Role: m.role, Content: m.text})
		}
		split, err := reconcile.Reconcile(nil, cm)
		if err != nil {
			t.Fatal(err)
		}
		got := groupTurns(ms[:len(ms)-1])
		if len(got) != len(split.Backfill) {
			t.Fatalf("%s: %d turns, reconcile %d", c.ID, len(got), len(split.Backfill))
		}
		for i, g := range got {
			if g.user != split.Backfill[i].User || g.reply != split.Backfill[i].Reply {
				t.Fatalf("%s turn %d: %+v, reconcile %+v", c.ID, i, g, split.Backfill[i])
			}
		}
	}
}

func TestPlanAndSessionName(t *testing.T) {
	ms := []msg{{role: "assistant", text: "a"}, {role: "user", text: "b"}, {role: "assistant", text: "c"},
		{role: "user", text: "d"}, {role: "user", text: "e"}, {role: "assistant", text: "f"}}
	if got := plan(ms, 1<<20); len(got) != 1 || got[0] != [2]int{0, 6} {
		t.Fatalf("one request: %v", got)
	}
	if got := fmt.Sprint(plan(ms, 1)); got != "[[0 1] [1 3] [3 6]]" {
		t.Fatalf("split: %s", got)
	}
	if id := sessionName("locomo", "conv 26/x", 3); id != "locomo-conv_26_x-3" {
		t.Fatalf("session %q", id)
	}
	if id := sessionName("lme", strings.Repeat("q", 300), 1); len(id) != 128 {
		t.Fatalf("long id of %d", len(id))
	}
}
