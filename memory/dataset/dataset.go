// Package dataset reads the public long-memory benchmarks' files into one shape, for replaying
// their conversations through a session and scoring retrieval against their evidence: LoCoMo
// (locomo10.json: conversations of sessions of turns with dia_id, and qa items whose evidence
// names dia_ids) and LongMemEval (longmemeval_s/m/oracle.json: one question per item, each with
// its own haystack of sessions, turns with has_answer, and answer_session_ids). Users bring the
// files; the tests use small fixtures in the same formats written for this project.
//
// Both readers stream the top-level array, one conversation at a time, so that a file of
// gigabytes (LongMemEval_M) costs the memory of its largest item, not of the file.
package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Message is one turn of a session.
type Message struct {
	ID        string // unique in the conversation: LoCoMo's dia_id, or "<session id>:<index>"
	Role      string // "user" or "assistant"
	Speaker   string // LoCoMo's speaker name; empty for LongMemEval
	Text      string
	HasAnswer bool // LongMemEval's turn-level evidence mark
}

// Session is a conversation's session, in order.
type Session struct {
	ID, Date string
	Messages []Message
}

// Question is a question about the conversation, with the evidence it needs.
type Question struct {
	ID, Text, Answer string
	Category         string
	// EvidenceMessages are the ids of the messages that hold the answer; EvidenceSessions
	// the ids of their sessions.
	EvidenceMessages []string
	EvidenceSessions []string
}

// Conversation is one benchmark item: sessions to replay, then questions to ask.
type Conversation struct {
	ID        string
	Sessions  []Session
	Questions []Question
}

// maxItem bounds one item of the top-level array: an item is a whole conversation (LoCoMo's
// are about 100 KB, LongMemEval_M's a few MB), not a file.
const maxItem = 64 << 20

// eachItem streams the elements of a top-level JSON array to fn.
func eachItem(r io.Reader, fn func(i int, raw json.RawMessage) error) error {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("reading the top-level array: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return errors.New("the file is not a JSON array of items")
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
		if len(raw) > maxItem {
			return fmt.Errorf("item %d: %d bytes, over the %d a conversation may take", i, len(raw), maxItem)
		}
		if err := fn(i, raw); err != nil {
			return err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return fmt.Errorf("the top-level array does not end: %v", err)
	}
	return nil
}

type locomoItem struct {
	SampleID     json.RawMessage            `json:"sample_id"`
	Conversation map[string]json.RawMessage `json:"conversation"`
	QA           []struct {
		Question    string          `json:"question"`
		Answer      json.RawMessage `json:"answer"`
		Adversarial json.RawMessage `json:"adversarial_answer"`
		Evidence    []string        `json:"evidence"`
		Category    json.RawMessage `json:"category"`
	} `json:"qa"`
}

type locomoTurn struct {
	Speaker string `json:"speaker"`
	DiaID   string `json:"dia_id"`
	Text    string `json:"text"`
	Caption string `json:"blip_caption"`
}

// ReadLoCoMo streams LoCoMo's conversations. speaker_a's turns are the user's and speaker_b's
// the assistant's (replaying one speaker as the user is how memory systems are run on it);
// an image turn's caption is appended to its text. Evidence ids like "D3:7" name session 3.
func ReadLoCoMo(r io.Reader, fn func(Conversation) error) error {
	return eachItem(r, func(i int, raw json.RawMessage) error {
		var it locomoItem
		if err := json.Unmarshal(raw, &it); err != nil {
			return fmt.Errorf("locomo item %d: %w", i, err)
		}
		c := Conversation{ID: scalar(it.SampleID)}
		if c.ID == "" {
			c.ID = strconv.Itoa(i)
		}
		var a string
		_ = json.Unmarshal(it.Conversation["speaker_a"], &a)
		var nums []int
		for k := range it.Conversation {
			if n, ok := strings.CutPrefix(k, "session_"); ok {
				if v, err := strconv.Atoi(n); err == nil {
					nums = append(nums, v)
				}
			}
		}
		sort.Ints(nums)
		for _, n := range nums {
			key := fmt.Sprintf("session_%d", n)
			var turns []locomoTurn
			if err := json.Unmarshal(it.Conversation[key], &turns); err != nil {
				return fmt.Errorf("locomo item %d: %s: %w", i, key, err)
			}
			s := Session{ID: key}
			_ = json.Unmarshal(it.Conversation[key+"_date_time"], &s.Date)
			for j, t := range turns {
				m := Message{ID: t.DiaID, Speaker: t.Speaker, Text: t.Text, Role: "assistant"}
				if m.ID == "" {
					m.ID = fmt.Sprintf("D%d:%d", n, j+1)
				}
				if t.Speaker == a || (a == "" && j%2 == 0) {
					m.Role = "user"
				}
				if t.Caption != "" {
					m.Text = strings.TrimSpace(m.Text + " [shares an image: " + t.Caption + "]")
				}
				s.Messages = append(s.Messages, m)
			}
			c.Sessions = append(c.Sessions, s)
		}
		for j, q := range it.QA {
			ans := scalar(q.Answer)
			if ans == "" {
				ans = scalar(q.Adversarial)
			}
			qq := Question{ID: fmt.Sprintf("%s/q%d", c.ID, j), Text: q.Question, Answer: ans, Category: scalar(q.Category)}
			seen := map[string]bool{}
			for _, ev := range q.Evidence {
				// Some items list several ids in one string ("D8:6; D9:17").
				for _, id := range strings.FieldsFunc(ev, func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
					qq.EvidenceMessages = append(qq.EvidenceMessages, id)
					if d, _, ok := strings.Cut(id, ":"); ok && strings.HasPrefix(d, "D") {
						if s := "session_" + d[1:]; !seen[s] {
							seen[s] = true
							qq.EvidenceSessions = append(qq.EvidenceSessions, s)
						}
					}
				}
			}
			c.Questions = append(c.Questions, qq)
		}
		return fn(c)
	})
}

type longMemItem struct {
	QuestionID   string          `json:"question_id"`
	QuestionType string          `json:"question_type"`
	Question     string          `json:"question"`
	Answer       json.RawMessage `json:"answer"`
	SessionIDs   []string        `json:"haystack_session_ids"`
	Dates        []string        `json:"haystack_dates"`
	Sessions     [][]struct {
		Role      string `json:"role"`
		Content   string `json:"content"`
		HasAnswer bool   `json:"has_answer"`
	} `json:"haystack_sessions"`
	AnswerSessionIDs []string `json:"answer_session_ids"`
}

// ReadLongMemEval streams LongMemEval's items, each a conversation of its haystack sessions
// and its one question. Message ids are "<session id>:<index>"; the turns marked has_answer
// are the question's message evidence, answer_session_ids its session evidence.
func ReadLongMemEval(r io.Reader, fn func(Conversation) error) error {
	return eachItem(r, func(i int, raw json.RawMessage) error {
		var it longMemItem
		if err := json.Unmarshal(raw, &it); err != nil {
			return fmt.Errorf("longmemeval item %d: %w", i, err)
		}
		if len(it.SessionIDs) != len(it.Sessions) {
			return fmt.Errorf("longmemeval item %d (%s): %d session ids for %d sessions", i, it.QuestionID,
				len(it.SessionIDs), len(it.Sessions))
		}
		c := Conversation{ID: it.QuestionID}
		q := Question{ID: it.QuestionID, Text: it.Question, Answer: scalar(it.Answer), Category: it.QuestionType,
			EvidenceSessions: it.AnswerSessionIDs}
		for si, turns := range it.Sessions {
			s := Session{ID: it.SessionIDs[si]}
			if si < len(it.Dates) {
				s.Date = it.Dates[si]
			}
			for j, t := range turns {
				m := Message{ID: fmt.Sprintf("%s:%d", s.ID, j), Role: t.Role, Text: t.Content, HasAnswer: t.HasAnswer}
				if m.Role != "user" && m.Role != "assistant" {
					return fmt.Errorf("longmemeval item %d: session %s turn %d: role %q", i, s.ID, j, t.Role)
				}
				if t.HasAnswer {
					q.EvidenceMessages = append(q.EvidenceMessages, m.ID)
				}
				s.Messages = append(s.Messages, m)
			}
			c.Sessions = append(c.Sessions, s)
		}
		c.Questions = []Question{q}
		return fn(c)
	})
}

// scalar is a JSON string or number as text ("" for null or absent).
func scalar(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// RecallAt is the share of the evidence ids found among the first k of ranked (1 when there
// is no evidence to find, as benchmarks count such questions apart).
func RecallAt(ranked, evidence []string, k int) float64 {
	if len(evidence) == 0 {
		return 1
	}
	top := map[string]bool{}
	for _, id := range ranked[:min(k, len(ranked))] {
		top[id] = true
	}
	hit := 0
	for _, id := range evidence {
		if top[id] {
			hit++
		}
	}
	return float64(hit) / float64(len(evidence))
}

// RecallAtGroups is RecallAt for a ranking of hits that each stand for a group of ids (a
// retrieved chunk that holds several messages, or the sessions of its messages): the share of
// the evidence ids found in the first k groups (1 when there is no evidence).
func RecallAtGroups(ranked [][]string, evidence []string, k int) float64 {
	if len(evidence) == 0 {
		return 1
	}
	top := map[string]bool{}
	for _, g := range ranked[:min(k, len(ranked))] {
		for _, id := range g {
			top[id] = true
		}
	}
	hit := 0
	for _, id := range evidence {
		if top[id] {
			hit++
		}
	}
	return float64(hit) / float64(len(evidence))
}
