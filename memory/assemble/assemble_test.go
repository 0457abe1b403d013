package assemble

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/chat"
)

// words counts a prompt as a template would make it: each message's words plus 4 tokens of
// framing.
func words(msgs []chat.Message) (int, error) {
	n := 0
	for _, m := range msgs {
		n += 4 + len(strings.Fields(m.Content))
	}
	return n, nil
}

func input() Input {
	return Input{
		System:  "You are helpful.",
		Summary: "The user's sister Alice lives in Lisbon.",
		Chunks: []Chunk{
			{Role: "user", Text: "my flight to Tokyo is on March 14", Similarity: 0.9},
			{Role: "assistant", Text: "noted the hotel in Shinjuku for six nights", Similarity: 0.5},
			{Role: "user", Text: "I prefer window seats", Similarity: 0.7},
		},
		Recent: []chat.Message{
			{Role: "user", Content: "What should I pack?"},
			{Role: "assistant", Content: "A charger, an umbrella and light clothes."},
			{Role: "user", Content: "And for the flight?"},
			{Role: "assistant", Content: "A neck pillow and water."},
		},
		New: []chat.Message{{Role: "user", Content: "When do I leave?"}},
	}
}

func TestAssembleAllFits(t *testing.T) {
	res, err := Assemble(input(), 1000, words)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 6 || res.Messages[0].Role != "system" || res.Messages[5].Content != "When do I leave?" {
		t.Fatalf("messages %+v", res.Messages)
	}
	sys := res.Messages[0].Content
	for _, want := range []string{"You are helpful.", "Alice lives in Lisbon", "Tokyo", "window seats", "Shinjuku"} {
		if !strings.Contains(sys, want) {
			t.Errorf("system message %q lacks %q", sys, want)
		}
	}
	// Most similar first.
	if strings.Index(sys, "Tokyo") > strings.Index(sys, "window") || strings.Index(sys, "window") > strings.Index(sys, "Shinjuku") {
		t.Errorf("chunks not in similarity order: %q", sys)
	}
	if n, _ := words(res.Messages); n != res.Tokens || res.Dropped != (Dropped{}) || len(res.Chunks) != 3 {
		t.Fatalf("tokens %d (counted %d), dropped %+v, %d chunks", res.Tokens, n, res.Dropped, len(res.Chunks))
	}
	base, _ := words(append([]chat.Message{{Role: "system", Content: "You are helpful."}}, res.Messages[1:]...))
	if res.MemoryTokens != res.Tokens-base {
		t.Fatalf("memory tokens %d, want %d", res.MemoryTokens, res.Tokens-base)
	}
}

// TestAssembleTrimOrder: as the budget shrinks, chunks go lowest similarity first, then the
// recent turns oldest first (whole), then the summary; the new message and the system message
// stay; below them, ErrTooLong. Every result is within its budget.
func TestAssembleTrimOrder(t *testing.T) {
	full, err := Assemble(input(), 1000, words)
	if err != nil {
		t.Fatal(err)
	}
	prev := Dropped{}
	sawTooLong := false
	for budget := full.Tokens; budget >= 0; budget-- {
		res, err := Assemble(input(), budget, words)
		if errors.Is(err, ErrTooLong) {
			sawTooLong = true
			if own, _ := words([]chat.Message{{Role: "system", Content: "You are helpful."}, {Role: "user", Content: "When do I leave?"}}); budget >= own {
				t.Fatalf("budget %d: ErrTooLong though the own messages take %d", budget, own)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if sawTooLong {
			t.Fatalf("budget %d fits after a larger one did not", budget)
		}
		if res.Tokens > budget {
			t.Fatalf("budget %d: prompt of %d tokens", budget, res.Tokens)
		}
		d := res.Dropped
		if d.Chunks < prev.Chunks || d.RecentMessages < prev.RecentMessages || (prev.Summary && !d.Summary) {
			t.Fatalf("budget %d: dropped %+v after %+v: trimming went back", budget, d, prev)
		}
		if d.RecentMessages > 0 && d.Chunks != 3 {
			t.Fatalf("budget %d: recent messages dropped while %d chunks stay", budget, 3-d.Chunks)
		}
		if d.Summary && d.RecentMessages != 4 {
			t.Fatalf("budget %d: the summary dropped before the recent turns", budget)
		}
		if d.RecentMessages%2 != 0 {
			t.Fatalf("budget %d: half a turn dropped (%d messages)", budget, d.RecentMessages)
		}
		if len(res.Chunks) > 0 && res.Chunks[len(res.Chunks)-1].Similarity < 0.5 {
			t.Fatalf("budget %d: kept %+v", budget, res.Chunks)
		}
		if len(res.Chunks) == 2 && res.Chunks[1].Text != "I prefer window seats" {
			t.Fatalf("budget %d: the lowest-similarity chunk was not the first to go: %+v", budget, res.Chunks)
		}
		if last := res.Messages[len(res.Messages)-1]; last.Content != "When do I leave?" {
			t.Fatalf("budget %d: the new message is gone", budget)
		}
		prev = d
	}
	if !sawTooLong {
		t.Fatal("a budget of 0 fitted")
	}
}

// TestAssembleFewCounts: the budget search renders O(log n) prompts, not one per chunk.
func TestAssembleFewCounts(t *testing.T) {
	in := input()
	in.Chunks = nil
	for i := range 1000 {
		in.Chunks = append(in.Chunks, Chunk{Role: "user", Text: fmt.Sprintf("fact number %d is here", i), Similarity: float64(i)})
	}
	calls := 0
	count := func(msgs []chat.Message) (int, error) {
		calls++
		return words(msgs)
	}
	res, err := Assemble(in, 600, count)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tokens > 600 || len(res.Chunks) == 0 || res.Chunks[0].Similarity != 999 {
		t.Fatalf("%d tokens, %d chunks, first %+v", res.Tokens, len(res.Chunks), res.Chunks[0])
	}
	if n, _ := words(append(res.Messages[:0:0], res.Messages...)); n > 600 {
		t.Fatalf("%d tokens", n)
	}
	if calls > 16 {
		t.Fatalf("%d counts for 1,000 chunks", calls)
	}
	boom := errors.New("template failed")
	if _, err := Assemble(in, 600, func([]chat.Message) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("a failing count: %v", err)
	}
}
