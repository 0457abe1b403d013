package dataset

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func read(t *testing.T, name string, reader func(r *os.File) ([]Conversation, error)) []Conversation {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cs, err := reader(f)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func collect(read func(r *os.File, fn func(Conversation) error) error) func(*os.File) ([]Conversation, error) {
	return func(f *os.File) ([]Conversation, error) {
		var cs []Conversation
		err := read(f, func(c Conversation) error { cs = append(cs, c); return nil })
		return cs, err
	}
}

func TestReadLoCoMo(t *testing.T) {
	cs := read(t, "locomo_mini.json", collect(func(f *os.File, fn func(Conversation) error) error { return ReadLoCoMo(f, fn) }))
	if len(cs) != 1 {
		t.Fatalf("%d conversations", len(cs))
	}
	c := cs[0]
	if c.ID != "conv-test-1" || len(c.Sessions) != 3 {
		t.Fatalf("conversation %q with %d sessions", c.ID, len(c.Sessions))
	}
	// Sessions in numeric order (10 after 2), with their dates.
	if ids := []string{c.Sessions[0].ID, c.Sessions[1].ID, c.Sessions[2].ID}; !reflect.DeepEqual(ids, []string{"session_1", "session_2", "session_10"}) {
		t.Fatalf("sessions %v", ids)
	}
	if c.Sessions[1].Date != "6:40 pm on 17 March, 2024" {
		t.Fatalf("date %q", c.Sessions[1].Date)
	}
	m := c.Sessions[0].Messages
	if m[0].Role != "user" || m[1].Role != "assistant" || m[0].Speaker != "Noor" || m[0].ID != "D1:1" {
		t.Fatalf("messages %+v", m)
	}
	if !strings.Contains(m[2].Text, "a grey dog lying on a sofa") {
		t.Fatalf("image caption lost: %q", m[2].Text)
	}
	if c.Sessions[1].Messages[0].Role != "assistant" {
		t.Fatal("speaker_b's turn opening a session is not the assistant's")
	}
	q := c.Questions
	if len(q) != 4 || q[0].Answer != "Pepper" || q[2].Answer != "pottery" || q[3].Answer != "2024" || q[0].Category != "1" {
		t.Fatalf("questions %+v", q)
	}
	if !reflect.DeepEqual(q[1].EvidenceMessages, []string{"D2:2", "D1:1"}) || !reflect.DeepEqual(q[1].EvidenceSessions, []string{"session_2", "session_1"}) {
		t.Fatalf("evidence %+v", q[1])
	}
	if !reflect.DeepEqual(q[3].EvidenceMessages, []string{"D1:1", "D1:3"}) || !reflect.DeepEqual(q[3].EvidenceSessions, []string{"session_1"}) {
		t.Fatalf("joined evidence %+v", q[3])
	}
}

func TestReadLongMemEval(t *testing.T) {
	cs := read(t, "longmemeval_mini.json", collect(func(f *os.File, fn func(Conversation) error) error { return ReadLongMemEval(f, fn) }))
	if len(cs) != 2 {
		t.Fatalf("%d conversations", len(cs))
	}
	c := cs[0]
	if c.ID != "lme-test-1" || len(c.Sessions) != 3 || c.Sessions[1].ID != "s_b" || c.Sessions[1].Date != "2024/05/08 (Wed) 09:00" {
		t.Fatalf("conversation %+v", c)
	}
	q := c.Questions[0]
	if q.Answer != "Valencia" || q.Category != "single-session-user" || !reflect.DeepEqual(q.EvidenceMessages, []string{"s_b:0"}) ||
		!reflect.DeepEqual(q.EvidenceSessions, []string{"s_b"}) {
		t.Fatalf("question %+v", q)
	}
	if !c.Sessions[1].Messages[0].HasAnswer || c.Sessions[1].Messages[1].HasAnswer {
		t.Fatal("has_answer marks lost")
	}
	if cs[1].Questions[0].Answer != "3" {
		t.Fatalf("numeric answer %q", cs[1].Questions[0].Answer)
	}
}

func TestReadErrors(t *testing.T) {
	for _, bad := range []string{`{}`, `[{"haystack_session_ids":["a"],"haystack_sessions":[]}]`, `[{"haystack_session_ids":["a"],"haystack_sessions":[[{"role":"system","content":"x"}]]}]`, `[`, `[1`} {
		err := ReadLongMemEval(strings.NewReader(bad), func(Conversation) error { return nil })
		if err == nil {
			t.Errorf("longmemeval %q accepted", bad)
		}
	}
	for _, bad := range []string{`{"a":1}`, `[{"conversation":{"session_1":"x"}}]`, `[{"qa":5}]`} {
		if err := ReadLoCoMo(strings.NewReader(bad), func(Conversation) error { return nil }); err == nil {
			t.Errorf("locomo %q accepted", bad)
		}
	}
}

func TestRecallAt(t *testing.T) {
	ranked := []string{"a", "b", "c", "d"}
	for _, c := range []struct {
		ev   []string
		k    int
		want float64
	}{{[]string{"a"}, 1, 1}, {[]string{"c"}, 2, 0}, {[]string{"a", "d"}, 3, 0.5}, {[]string{"a", "d"}, 10, 1}, {nil, 1, 1}} {
		if got := RecallAt(ranked, c.ev, c.k); got != c.want {
			t.Errorf("recall@%d of %v: %v, want %v", c.k, c.ev, got, c.want)
		}
	}
}

func TestRecallAtGroups(t *testing.T) {
	ranked := [][]string{{"a", "b"}, nil, {"c"}, {"d", "a"}}
	for _, c := range []struct {
		ev   []string
		k    int
		want float64
	}{{[]string{"b"}, 1, 1}, {[]string{"c"}, 2, 0}, {[]string{"c"}, 3, 1}, {[]string{"a", "d"}, 3, 0.5},
		{[]string{"a", "d"}, 10, 1}, {nil, 1, 1}, {[]string{"x"}, 4, 0}} {
		if got := RecallAtGroups(ranked, c.ev, c.k); got != c.want {
			t.Errorf("recall@%d of %v: %v, want %v", c.k, c.ev, got, c.want)
		}
	}
}
