package reconcile

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/arborlabs/arbor/runtime/chat"
)

func conv(ts ...Turn) []chat.Message {
	var m []chat.Message
	for _, t := range ts {
		m = append(m, chat.Message{Role: "user", Content: t.User}, chat.Message{Role: "assistant", Content: t.Reply})
	}
	return m
}

func tn(i int) Turn {
	return Turn{User: fmt.Sprintf("question %d", i), Reply: fmt.Sprintf("answer %d", i)}
}

func TestReconcile(t *testing.T) {
	stored := Turns{tn(1), tn(2), tn(3)}
	newMsg := chat.Message{Role: "user", Content: "what now?"}
	edited := Turn{User: "question 2, reworded", Reply: "answer 2"}
	for _, c := range []struct {
		name     string
		stored   Turns
		msgs     []chat.Message
		backfill []Turn
	}{
		{"only the new message", stored, []chat.Message{newMsg}, nil},
		{"the whole history again", stored, append(conv(tn(1), tn(2), tn(3)), newMsg), nil},
		{"the last two turns again", stored, append(conv(tn(2), tn(3)), newMsg), nil},
		{"the last turn again", stored, append(conv(tn(3)), newMsg), nil},
		{"an older prefix of the history", stored, append(conv(tn(1), tn(2)), newMsg), nil},
		{"history the session lacks", Turns{tn(1)}, append(conv(tn(1), tn(2), tn(3)), newMsg), []Turn{tn(2), tn(3)}},
		{"a new session with history", nil, append(conv(tn(1), tn(2)), newMsg), []Turn{tn(1), tn(2)}},
		{"the last turn and turns after it", stored, append(conv(tn(3), tn(4)), newMsg), []Turn{tn(4)}},
		{"an edited turn", stored, append(conv(tn(1), edited), newMsg), []Turn{edited}},
		{"unrelated history", stored, append(conv(tn(7)), newMsg), []Turn{tn(7)}},
	} {
		sp, err := Reconcile(c.stored, c.msgs)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(sp.Backfill, c.backfill) || len(sp.New) != 1 || !reflect.DeepEqual(sp.New[0], newMsg) {
			t.Errorf("%s: backfill %v, new %v; want %v", c.name, sp.Backfill, sp.New, c.backfill)
		}
	}
}

func TestReconcileShapes(t *testing.T) {
	msgs := []chat.Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "a"}, {Role: "user", Parts: []chat.ContentPart{{Type: "text", Text: "b"}, {Type: "text", Text: "c"}}},
		{Role: "assistant", Content: "calling"}, {Role: "tool", Content: "42"}, {Role: "assistant", Content: "it is 42"},
		{Role: "user", Content: "thanks"}, {Role: "tool", Content: "late result"},
	}
	sp, err := Reconcile(nil, msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Turn{{User: "a\nbc", Reply: "calling\n42\nit is 42"}}
	if sp.System != "Be brief." || !reflect.DeepEqual(sp.Backfill, want) || len(sp.New) != 2 {
		t.Fatalf("split %+v", sp)
	}
	if _, err := Reconcile(nil, conv(tn(1))); !errors.Is(err, ErrNoNewMessage) {
		t.Fatalf("a request ending with the assistant: %v", err)
	}
	if _, err := Reconcile(nil, []chat.Message{{Role: "system", Content: "x"}}); !errors.Is(err, ErrNoNewMessage) {
		t.Fatalf("only a system message: %v", err)
	}
}

// reads counts the stored turns Reconcile reads.
type reads struct {
	Turns
	n int
}

func (r *reads) Turn(i int) (Turn, error) { r.n++; return r.Turns[i], nil }

// TestReconcileReadsLittle: against a session of 100,000 turns, a request with two history
// turns reads at most four stored turns.
func TestReconcileReadsLittle(t *testing.T) {
	long := make(Turns, 100000)
	for i := range long {
		long[i] = tn(i)
	}
	r := &reads{Turns: long}
	sp, err := Reconcile(r, append(conv(tn(99998), tn(99999)), chat.Message{Role: "user", Content: "next"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Backfill) != 0 || r.n > 4 {
		t.Fatalf("backfill %v after reading %d turns", sp.Backfill, r.n)
	}
}
