package tree

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// EventKind says what a tracker event reports.
type EventKind int

const (
	// TaskOpened: the '{' of a Task was fed. Depth is the task's depth, Begin its offset.
	TaskOpened EventKind = iota + 1
	// TaskClosed: the '}' of a Task was fed; [Begin, End) is the whole task object.
	TaskClosed
	// ToolCall: the value of a ToolUse's "parameters" is complete. Tool is the tool_name,
	// Params the value's exact bytes, [Begin, End) their span, Depth the calling task's depth.
	// The runtime now writes `,"tool_result":` (see Tracker.ResultPrefix) and the result.
	ToolCall
	// ToolResult: the value of "tool_result" is complete; [Begin, End) is its span.
	ToolResult
	// SubtasksClosed: the ']' of a task's "subtasks" list was fed. [Begin, End) is the list's
	// inside (the bytes strictly between '[' and ']'); Depth is the depth of the task that owns
	// the list (its items are tasks of depth Depth+1). Never raised for "reasoning".
	SubtasksClosed
	// AnswerComplete: the closing quote of the response's "answer" string was fed.
	AnswerComplete
	// Done: the '}' of the response object was fed; only whitespace may follow.
	Done
)

var eventNames = [...]string{"", "TaskOpened", "TaskClosed", "ToolCall", "ToolResult", "SubtasksClosed",
	"AnswerComplete", "Done"}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something the tracker saw in the output. Offsets are byte offsets in the whole
// output (counting every byte fed since NewTracker).
type Event struct {
	Kind   EventKind
	Offset int             // just past the byte that completed the event
	Depth  int             // task depth (1 = a task of "reasoning"); see the kinds
	Tool   string          // ToolCall, ToolResult: the tool_name
	Params json.RawMessage // ToolCall: the parameters value's exact bytes (a copy)
	Begin  int             // see the kinds: the span the event is about
	End    int
}

// role is what a JSON value is in the TIM shape; it decides which events the value raises and
// which JSON types it may have.
type role uint8

const (
	roleOther     role = iota // anything the TIM shape does not name: parsed, never reported
	roleResponse              // the top-level object
	roleReasoning             // Response.reasoning: array of depth-1 tasks
	roleAnswer                // Response.answer: string
	roleTask                  // a Task object
	roleText                  // Task.thought, Task.conclusion: string
	roleToolUse               // Task.tooluse: object or null
	roleSubtasks              // Task.subtasks: array or null
	roleName                  // ToolUse.tool_name: string
	roleParams                // ToolUse.parameters: any JSON, captured
	roleResult                // ToolUse.tool_result: any JSON
)

// JSON value kinds, as a bit set of what a role admits.
const (
	kObject = 1 << iota
	kArray
	kString
	kNumber
	kBool
	kNull
	kAny = kObject | kArray | kString | kNumber | kBool | kNull
)

var roleAdmits = [...]struct {
	kinds int
	what  string
}{
	roleOther:     {kAny, "a value"},
	roleResponse:  {kObject, "the response object"},
	roleReasoning: {kArray, `"reasoning" (an array of tasks)`},
	roleAnswer:    {kString, `"answer" (a string)`},
	roleTask:      {kObject, "a task object"},
	roleText:      {kString, "a task's thought or conclusion (a string)"},
	roleToolUse:   {kObject | kNull, `"tooluse" (an object or null)`},
	roleSubtasks:  {kArray | kNull, `"subtasks" (an array of tasks or null)`},
	roleName:      {kString, `"tool_name" (a string)`},
	roleParams:    {kAny, `"parameters"`},
	roleResult:    {kAny, `"tool_result"`},
}

// Container states. Objects: after '{' a key or '}'; after ',' a key; after a key ':'; after ':'
// a value; after a value ',' or '}'. Arrays: after '[' a value or ']'; after ',' a value; after
// a value ',' or ']'.
type cstate uint8

const (
	objKeyOrEnd cstate = iota
	objKey
	objColon
	objValue
	objNext
	arrValueOrEnd
	arrValue
	arrNext
)

// frame is an open object or array.
type frame struct {
	role   role
	state  cstate
	member role // objects: the role of the current member's value (from its key)
	depth  int  // task depth: of the task itself (roleTask), of the owning task (roleSubtasks, roleToolUse)
	start  int  // offset of '{' or '['
	name   string
	named  bool // roleToolUse: tool_name seen
}

// Lexer states for scalars; lexNone is between tokens.
type lexState uint8

const (
	lexNone lexState = iota
	lexString
	lexEscape
	lexHex
	lexNumber
	lexLiteral
)

// Number states (JSON's number grammar).
const (
	numMinus = iota // after '-'
	numZero         // integer part "0"
	numInt          // in the integer part
	numDot          // after '.'
	numFrac         // in the fraction
	numE            // after 'e'
	numESign        // after the exponent's sign
	numExp          // in the exponent
)

// Tracker follows TIM output bytes as they are generated and raises events at the points of
// the task tree that matter to the runtime. It is a streaming JSON parser (whitespace between
// tokens is allowed, as in any JSON, though the grammar writes none) that knows, for each value,
// its place in the TIM shape: members the shape does not name are parsed and skipped, so user
// schemas may add fields (a task "title", say) without confusing it. Not safe for concurrent
// use.
type Tracker struct {
	off   int // bytes fed so far
	stack []frame
	begun bool // the top-level value has started
	done  bool // the top-level value is complete
	err   error

	lex     lexState
	isKey   bool   // the string being lexed is an object key
	valRole role   // role of the scalar value being lexed
	start   int    // offset where the scalar being lexed began
	keep    bool   // keep the raw bytes of the string being lexed (TIM keys, tool_name)
	raw     []byte // those bytes, between the quotes, escapes undecoded
	escaped bool   // raw holds an escape
	hexLeft int
	num     int    // number state
	lit     string // the literal being matched ("true", "false", "null")
	litPos  int

	// Capture of a "parameters" value: capFrom is where it starts in the current chunk; the
	// bytes of earlier chunks are in capBuf.
	capturing bool
	capFrom   int
	capBuf    []byte

	pending bool // a ToolCall was raised and its tool_result value has not begun

	events []Event
}

// NewTracker starts a tracker at the beginning of the output.
func NewTracker() *Tracker { return &Tracker{} }

// Offset is the number of bytes fed so far.
func (t *Tracker) Offset() int { return t.off }

// Done reports whether the response object is complete.
func (t *Tracker) Done() bool { return t.done }

// Err is the error that stopped the tracker, if any.
func (t *Tracker) Err() error { return t.err }

// Feed follows the next bytes of the output (a token's bytes, or any chunk) and returns the
// events they completed, in order. The slice is reused by the next call. After an error
// (bytes that are not JSON, or not the TIM shape), every later call returns the same error.
func (t *Tracker) Feed(b []byte) ([]Event, error) {
	t.events = t.events[:0]
	if t.err != nil {
		return nil, t.err
	}
	if t.capturing {
		t.capFrom = 0
	}
	base := t.off
	for i := 0; i < len(b); i++ {
		if err := t.step(b, i, base+i); err != nil {
			t.err = fmt.Errorf("tree: output byte %d (%q): %w", base+i, b[i], err)
			t.off = base + i
			return t.events, t.err
		}
	}
	t.off = base + len(b)
	if t.capturing {
		t.capBuf = append(t.capBuf, b[t.capFrom:]...)
	}
	return t.events, nil
}

// step consumes byte b[i], at output offset pos.
func (t *Tracker) step(b []byte, i, pos int) error {
	c := b[i]
	switch t.lex {
	case lexString:
		switch {
		case c == '"':
			t.lex = lexNone
			return t.endString(b, i, pos)
		case c == '\\':
			t.lex = lexEscape
			t.escaped = true
		case c < 0x20:
			return errors.New("control character in a string")
		}
		if t.keep {
			t.raw = append(t.raw, c)
		}
		return nil
	case lexEscape:
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			t.lex = lexString
		case 'u':
			t.lex, t.hexLeft = lexHex, 4
		default:
			return errors.New("bad escape in a string")
		}
		if t.keep {
			t.raw = append(t.raw, c)
		}
		return nil
	case lexHex:
		if !isHex(c) {
			return errors.New(`bad \u escape in a string`)
		}
		if t.hexLeft--; t.hexLeft == 0 {
			t.lex = lexString
		}
		if t.keep {
			t.raw = append(t.raw, c)
		}
		return nil
	case lexLiteral:
		if c != t.lit[t.litPos] {
			return fmt.Errorf("bad literal (want %q)", t.lit)
		}
		if t.litPos++; t.litPos == len(t.lit) {
			t.lex = lexNone
			return t.valueDone(t.valRole, t.start, pos+1, b, i+1)
		}
		return nil
	case lexNumber:
		more, err := t.numberByte(c)
		if err != nil {
			return err
		}
		if more {
			return nil
		}
		// c ends the number and is a token of its own: the number's value ends before it.
		t.lex = lexNone
		if err := t.valueDone(t.valRole, t.start, pos, b, i); err != nil {
			return err
		}
	}
	return t.structural(b, i, pos)
}

// numberByte moves the number state past c; more is false when c is not part of the number
// (which is then complete, if its state allows ending there).
func (t *Tracker) numberByte(c byte) (more bool, err error) {
	digit := c >= '0' && c <= '9'
	switch t.num {
	case numMinus:
		switch {
		case c == '0':
			t.num = numZero
		case digit:
			t.num = numInt
		default:
			return false, errors.New("bad number")
		}
		return true, nil
	case numZero, numInt:
		switch {
		case digit && t.num == numInt:
		case digit:
			return false, errors.New("bad number: leading zero")
		case c == '.':
			t.num = numDot
		case c == 'e' || c == 'E':
			t.num = numE
		default:
			return false, nil
		}
		return true, nil
	case numDot:
		if !digit {
			return false, errors.New("bad number: no digit after '.'")
		}
		t.num = numFrac
		return true, nil
	case numFrac:
		switch {
		case digit:
		case c == 'e' || c == 'E':
			t.num = numE
		default:
			return false, nil
		}
		return true, nil
	case numE:
		switch {
		case c == '+' || c == '-':
			t.num = numESign
		case digit:
			t.num = numExp
		default:
			return false, errors.New("bad number exponent")
		}
		return true, nil
	case numESign:
		if !digit {
			return false, errors.New("bad number exponent")
		}
		t.num = numExp
		return true, nil
	default: // numExp
		return digit, nil
	}
}

// structural consumes a byte between tokens.
func (t *Tracker) structural(b []byte, i, pos int) error {
	c := b[i]
	if c == ' ' || c == '\n' || c == '\r' || c == '\t' {
		return nil
	}
	if len(t.stack) == 0 {
		if t.begun {
			return errors.New("data after the response object")
		}
		t.begun = true
		return t.startValue(roleResponse, 0, b, i, pos)
	}
	f := &t.stack[len(t.stack)-1]
	switch f.state {
	case objKeyOrEnd, objKey:
		if c == '"' {
			t.lex, t.isKey, t.start = lexString, true, pos
			// Only the TIM objects' keys matter; others are lexed without being kept.
			t.keep = f.role == roleResponse || f.role == roleTask || f.role == roleToolUse
			t.raw, t.escaped = t.raw[:0], false
			return nil
		}
		if c == '}' && f.state == objKeyOrEnd {
			return t.closeContainer(b, i, pos)
		}
		return errors.New("want an object key")
	case objColon:
		if c != ':' {
			return errors.New("want ':' after an object key")
		}
		f.state = objValue
		return nil
	case objValue:
		return t.startValue(f.member, f.depth, b, i, pos)
	case objNext:
		switch c {
		case ',':
			f.state = objKey
			return nil
		case '}':
			return t.closeContainer(b, i, pos)
		}
		return errors.New("want ',' or '}' in an object")
	case arrValueOrEnd, arrValue:
		if c == ']' && f.state == arrValueOrEnd {
			return t.closeContainer(b, i, pos)
		}
		item, depth := roleOther, 0
		switch f.role {
		case roleReasoning:
			item, depth = roleTask, 1
		case roleSubtasks:
			item, depth = roleTask, f.depth+1
		}
		return t.startValue(item, depth, b, i, pos)
	default: // arrNext
		switch c {
		case ',':
			f.state = arrValue
			return nil
		case ']':
			return t.closeContainer(b, i, pos)
		}
		return errors.New("want ',' or ']' in an array")
	}
}

// startValue begins a value of role r (depth as the role defines it) at byte b[i].
func (t *Tracker) startValue(r role, depth int, b []byte, i, pos int) error {
	c := b[i]
	var kind int
	switch {
	case c == '{':
		kind = kObject
	case c == '[':
		kind = kArray
	case c == '"':
		kind = kString
	case c == '-' || (c >= '0' && c <= '9'):
		kind = kNumber
	case c == 't' || c == 'f':
		kind = kBool
	case c == 'n':
		kind = kNull
	default:
		return errors.New("want a JSON value")
	}
	if roleAdmits[r].kinds&kind == 0 {
		return fmt.Errorf("want %s", roleAdmits[r].what)
	}
	switch r {
	case roleParams:
		t.capturing, t.capFrom, t.capBuf = true, i, t.capBuf[:0]
	case roleResult:
		t.pending = false
	}
	switch kind {
	case kObject, kArray:
		f := frame{role: r, depth: depth, start: pos, state: objKeyOrEnd}
		if kind == kArray {
			f.state = arrValueOrEnd
		}
		t.stack = append(t.stack, f)
		if r == roleTask {
			t.emit(Event{Kind: TaskOpened, Offset: pos + 1, Depth: depth, Begin: pos})
		}
		return nil
	case kString:
		t.lex, t.isKey, t.valRole, t.start = lexString, false, r, pos
		t.keep = r == roleName
		t.raw, t.escaped = t.raw[:0], false
		return nil
	case kNumber:
		t.lex, t.valRole, t.start = lexNumber, r, pos
		t.num = numInt
		if c == '-' {
			t.num = numMinus
		} else if c == '0' {
			t.num = numZero
		}
		return nil
	default:
		t.lex, t.valRole, t.start, t.litPos = lexLiteral, r, pos, 1
		switch c {
		case 't':
			t.lit = "true"
		case 'f':
			t.lit = "false"
		default:
			t.lit = "null"
		}
		return nil
	}
}

// endString handles the closing quote of a key or a string value.
func (t *Tracker) endString(b []byte, i, pos int) error {
	if !t.isKey {
		return t.valueDone(t.valRole, t.start, pos+1, b, i+1)
	}
	f := &t.stack[len(t.stack)-1]
	f.state, f.member = objColon, roleOther
	if !t.keep {
		return nil
	}
	if !t.escaped {
		f.member = memberRole(f.role, t.raw) // the usual case: no allocation
		return nil
	}
	key, err := t.rawString()
	if err != nil {
		return err
	}
	f.member = memberRole(f.role, []byte(key))
	return nil
}

// memberRole is the role of the value of member key in an object of role parent.
func memberRole(parent role, key []byte) role {
	switch parent {
	case roleResponse:
		switch string(key) {
		case "reasoning":
			return roleReasoning
		case "answer":
			return roleAnswer
		}
	case roleTask:
		switch string(key) {
		case "thought", "conclusion":
			return roleText
		case "tooluse":
			return roleToolUse
		case "subtasks":
			return roleSubtasks
		}
	case roleToolUse:
		switch string(key) {
		case "tool_name":
			return roleName
		case "parameters":
			return roleParams
		case "tool_result":
			return roleResult
		}
	}
	return roleOther
}

// rawString decodes the kept string bytes (a tool_name, or a key with escapes).
func (t *Tracker) rawString() (string, error) {
	if !t.escaped {
		return string(t.raw), nil
	}
	var s string
	q := make([]byte, 0, len(t.raw)+2)
	q = append(append(append(q, '"'), t.raw...), '"')
	if err := json.Unmarshal(q, &s); err != nil {
		return "", fmt.Errorf("decode string: %w", err)
	}
	return s, nil
}

// closeContainer handles '}' or ']' (already checked against the state).
func (t *Tracker) closeContainer(b []byte, i, pos int) error {
	f := t.stack[len(t.stack)-1]
	t.stack = t.stack[:len(t.stack)-1]
	switch f.role {
	case roleTask:
		t.emit(Event{Kind: TaskClosed, Offset: pos + 1, Depth: f.depth, Begin: f.start, End: pos + 1})
	case roleSubtasks:
		t.emit(Event{Kind: SubtasksClosed, Offset: pos + 1, Depth: f.depth, Begin: f.start + 1, End: pos})
	case roleToolUse:
		t.pending = false
	case roleResponse:
		t.emit(Event{Kind: Done, Offset: pos + 1})
	}
	return t.valueDone(f.role, f.start, pos+1, b, i+1)
}

// valueDone handles a complete value of role r spanning [begin, end) of the output; b[:next]
// of the current chunk is consumed up to its end.
func (t *Tracker) valueDone(r role, begin, end int, b []byte, next int) error {
	if len(t.stack) == 0 {
		t.done = true
		return nil
	}
	f := &t.stack[len(t.stack)-1]
	if f.state == objValue {
		f.state = objNext
	} else {
		f.state = arrNext
	}
	switch r {
	case roleName:
		name, err := t.rawString()
		if err != nil {
			return err
		}
		f.name, f.named = name, true
	case roleParams:
		if !f.named {
			return errors.New(`"parameters" complete before "tool_name"`)
		}
		t.capBuf = append(t.capBuf, b[t.capFrom:next]...)
		t.capturing = false
		params := json.RawMessage(append([]byte(nil), t.capBuf...))
		t.pending = true
		t.emit(Event{Kind: ToolCall, Offset: end, Depth: f.depth, Tool: f.name, Params: params, Begin: begin, End: end})
	case roleResult:
		t.emit(Event{Kind: ToolResult, Offset: end, Depth: f.depth, Tool: f.name, Begin: begin, End: end})
	case roleAnswer:
		t.emit(Event{Kind: AnswerComplete, Offset: end, Begin: begin, End: end})
	}
	return nil
}

func (t *Tracker) emit(e Event) { t.events = append(t.events, e) }

const resultKey = `"tool_result":`

// ResultPrefix is the text the runtime writes, right after a ToolCall event, so that the output
// reads `..."parameters":<value>,"tool_result":` and the result's JSON can follow: the part of
// `,"tool_result":` that the bytes fed so far have not already written (the token that
// completed the parameters may carry `,"` or more of it). It is an error when no tool call is
// waiting for its result, or when the output has gone past the colon or somewhere else.
func (t *Tracker) ResultPrefix() (string, error) {
	if t.err != nil {
		return "", t.err
	}
	if !t.pending || len(t.stack) == 0 {
		return "", errors.New("tree: no tool call is waiting for its result")
	}
	f := &t.stack[len(t.stack)-1]
	if f.role != roleToolUse {
		return "", errors.New("tree: the output left the tool call before its result")
	}
	switch {
	case t.lex == lexNone && f.state == objNext:
		return "," + resultKey, nil
	case t.lex == lexNone && f.state == objKey:
		return resultKey, nil
	case t.lex == lexString && t.isKey:
		if t.escaped || !strings.HasPrefix(resultKey[1:], string(t.raw)) {
			return "", fmt.Errorf("tree: the output wrote key %q where \"tool_result\" was due", t.raw)
		}
		return resultKey[1+len(t.raw):], nil
	case t.lex == lexNone && (f.state == objColon || f.state == objValue):
		if f.member != roleResult {
			return "", errors.New(`tree: the output wrote another key where "tool_result" was due`)
		}
		if f.state == objColon {
			return ":", nil
		}
		return "", nil
	}
	return "", errors.New("tree: the output already went past `\"tool_result\":`")
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
