package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"

	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/runtime/sample"
	"github.com/arborlabs/arbor/tree"
)

// Requests are decoded in two passes: first into a map of raw field values (so that malformed
// JSON and a body that is not an object get their own message), then field by field into typed
// values. Decoding a field on its own is what lets every type error name its field exactly
// ("'temperature' must be a number, got a string"), which a single json.Unmarshal into a struct
// cannot do for union-typed fields such as stop, prompt or tool_choice. Unknown fields are
// ignored, as OpenAI does; a field sent as null counts as absent, as OpenAI's SDKs expect.
type fields map[string]json.RawMessage

// MaxN bounds n (choices per prompt) and the number of prompts of one completions request:
// each is a sequence in the engine, and one request must not take the whole batch.
const MaxN = 16

// maxStopStrings and maxStopBytes bound a request's stop strings (OpenAI allows 4).
const (
	maxStopStrings = 64
	maxStopBytes   = 16 << 10
)

func parseBody(body []byte) (fields, *APIError) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, BadRequest("", "the request body is empty; want a JSON object")
	}
	if body[0] != '{' {
		if !json.Valid(body) {
			return nil, BadRequest("", "the request body is not valid JSON")
		}
		return nil, BadRequest("", "the request body must be a JSON object, got %s", jsonKind(body))
	}
	var f fields
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, BadRequest("", "the request body is not valid JSON: %s", jsonErrorText(err))
	}
	return f, nil
}

// jsonErrorText describes a syntax error with its offset, which helps people writing curl
// commands by hand.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	return err.Error()
}

// jsonKind names the JSON type of a raw value, for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if len(raw) > 24 { // a number's digits are worth quoting, a page of them is not
		return "a number (" + string(raw[:20]) + "...)"
	}
	return "a number (" + string(raw) + ")"
}

// present reports whether name was sent with a value other than null.
func (f fields) present(name string) bool {
	raw, ok := f[name]
	return ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// get decodes field name into dst when present; want describes the expected type for the error.
func get[T any](f fields, name string, dst *T, want string) *APIError {
	if !f.present(name) {
		return nil
	}
	return decodeAs(f[name], name, dst, want)
}

func decodeAs[T any](raw json.RawMessage, name string, dst *T, want string) *APIError {
	if err := json.Unmarshal(raw, dst); err != nil {
		return BadRequest(name, "'%s' must be %s, got %s", name, want, jsonKind(raw))
	}
	return nil
}

// getFloat decodes a number field as float32, rejecting values float32 cannot hold.
func getFloat(f fields, name string, dst *float32) *APIError {
	var v float64
	if !f.present(name) {
		return nil
	}
	if err := get(f, name, &v, "a number"); err != nil {
		return err
	}
	if math.Abs(v) > math.MaxFloat32 {
		return BadRequest(name, "'%s' is out of range: %v", name, v)
	}
	*dst = float32(v)
	return nil
}

// stringOrList decodes a field that may be a string or an array of strings (stop).
func stringOrList(f fields, name string) ([]string, *APIError) {
	if !f.present(name) {
		return nil, nil
	}
	raw := bytes.TrimSpace(f[name])
	var one string
	if raw[0] == '"' {
		if err := decodeAs(raw, name, &one, "a string or an array of strings"); err != nil {
			return nil, err
		}
		return []string{one}, nil
	}
	var list []*string // a null element is refused, not taken for ""
	if err := decodeAs(raw, name, &list, "a string or an array of strings"); err != nil {
		return nil, err
	}
	out := make([]string, len(list))
	for i, p := range list {
		if p == nil {
			return nil, BadRequest(name, "'%s[%d]' must be a string, got null", name, i)
		}
		out[i] = *p
	}
	return out, nil
}

// Common holds the fields chat and completions requests share.
type Common struct {
	Model        string
	MaxTokens    int // 0: up to the context limit
	Sampling     sample.Params
	Stop         []string
	N            int
	Stream       bool
	IncludeUsage bool
	User         string
	// SparseAttention is the sparse_attention field; nil when absent (the server's default).
	SparseAttention *SparseAttention
}

// Base is the part of a request that both endpoints share.
func (c *Common) Base() *Common { return c }

func parseCommon(f fields) (Common, *APIError) {
	c := Common{Sampling: sample.DefaultParams(), N: 1}
	var errs []*APIError
	add := func(e *APIError) {
		if e != nil {
			errs = append(errs, e)
		}
	}
	add(get(f, "model", &c.Model, "a string"))
	add(get(f, "user", &c.User, "a string"))
	add(get(f, "stream", &c.Stream, "a boolean"))
	if f.present("stream_options") {
		var so struct {
			IncludeUsage *bool `json:"include_usage"`
		}
		add(get(f, "stream_options", &so, "an object {\"include_usage\": boolean}"))
		if so.IncludeUsage != nil {
			c.IncludeUsage = *so.IncludeUsage
		}
	}
	// max_completion_tokens is OpenAI's current name; max_tokens the deprecated one. When both
	// come, the current one wins.
	for _, name := range []string{"max_tokens", "max_completion_tokens"} {
		if !f.present(name) {
			continue
		}
		var v int
		if e := get(f, name, &v, "an integer"); e != nil {
			add(e)
			continue
		}
		if v < 1 {
			add(BadRequest(name, "'%s' must be at least 1, got %d", name, v))
			continue
		}
		c.MaxTokens = v
	}
	add(getFloat(f, "temperature", &c.Sampling.Temperature))
	add(getFloat(f, "top_p", &c.Sampling.TopP))
	add(getFloat(f, "min_p", &c.Sampling.MinP))
	add(getFloat(f, "presence_penalty", &c.Sampling.PresencePenalty))
	add(getFloat(f, "frequency_penalty", &c.Sampling.FrequencyPenalty))
	add(getFloat(f, "repetition_penalty", &c.Sampling.RepetitionPenalty))
	if f.present("top_k") {
		var k int
		add(get(f, "top_k", &k, "an integer"))
		if k == -1 { // vLLM's spelling of "off"
			k = 0
		}
		c.Sampling.TopK = k
	}
	if f.present("seed") {
		var seed int64
		if e := get(f, "seed", &seed, "an integer"); e != nil {
			add(e)
		} else {
			u := uint64(seed)
			c.Sampling.Seed = &u
		}
	}
	if f.present("n") {
		add(get(f, "n", &c.N, "an integer"))
		if c.N < 1 || c.N > MaxN {
			add(BadRequest("n", "'n' must be between 1 and %d, got %d", MaxN, c.N))
		}
	}
	stop, e := stringOrList(f, "stop")
	add(e)
	stopBytes := 0
	for _, s := range stop {
		if s != "" {
			c.Stop = append(c.Stop, s)
			stopBytes += len(s)
		}
	}
	// Every generated token is checked against every stop string: bound what that may cost.
	if len(c.Stop) > maxStopStrings || stopBytes > maxStopBytes {
		add(BadRequest("stop", "'stop' may hold at most %d strings of %d bytes in all, got %d strings of %d bytes",
			maxStopStrings, maxStopBytes, len(c.Stop), stopBytes))
	}
	if f.present("sparse_attention") {
		sa, e := parseSparseAttention(f["sparse_attention"])
		add(e)
		c.SparseAttention = sa
	}
	if len(errs) > 0 {
		return c, errs[0]
	}
	if err := c.Sampling.Validate(); err != nil {
		return c, &APIError{Status: 400, Type: TypeInvalidRequest, Param: StrPtr(paramOf(err.Error())),
			Message: err.Error()}
	}
	if f.present("stream_options") && !c.Stream {
		return c, BadRequest("stream_options", "'stream_options' is only allowed with \"stream\": true")
	}
	return c, nil
}

// SparseAttention is the sparse_attention request field: "none" (full attention, whatever the
// server's default), "delta", or {"type": "delta", "budget": pages, "recent": pages} (DELTA
// sparse attention for the decode steps; budget and recent override the server's config).
type SparseAttention struct {
	Delta          bool // false: "none"
	Budget, Recent int  // 0: the server's config's
}

// MaxSparsePages bounds sparse_attention's budget and recent: a selection of more pages than
// any context holds is full attention with extra work, and a bound keeps the number sane.
const MaxSparsePages = 65536

const sparseShapes = `"none", "delta" or {"type": "delta", "budget": pages, "recent": pages}`

func parseSparseAttention(raw json.RawMessage) (*SparseAttention, *APIError) {
	const name = "sparse_attention"
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '"':
		var s string
		if ae := decodeAs(raw, name, &s, sparseShapes); ae != nil {
			return nil, ae
		}
		switch s {
		case "none":
			return &SparseAttention{}, nil
		case "delta":
			return &SparseAttention{Delta: true}, nil
		}
		return nil, BadRequest(name, "'%s' must be %s, got %q", name, sparseShapes, s)
	case '{':
	default:
		return nil, BadRequest(name, "'%s' must be %s, got %s", name, sparseShapes, jsonKind(raw))
	}
	var obj fields
	if ae := decodeAs(raw, name, &obj, sparseShapes); ae != nil {
		return nil, ae
	}
	// Unknown members are refused, unlike unknown top-level fields: a misspelt "budget" would
	// otherwise silently run with the server's.
	for k := range obj {
		if k != "type" && k != "budget" && k != "recent" {
			return nil, BadRequest(name+"."+k, "'%s' has no member %q: want %s", name, k, sparseShapes)
		}
	}
	var typ string
	if !obj.present("type") {
		return nil, BadRequest(name+".type", "'%s.type' is required: \"delta\" or \"none\"", name)
	}
	if ae := get(obj, "type", &typ, "a string"); ae != nil {
		return nil, BadRequest(name+".type", "'%s.type' must be \"delta\" or \"none\", got %s", name, jsonKind(obj["type"]))
	}
	out := &SparseAttention{}
	switch typ {
	case "delta":
		out.Delta = true
	case "none":
		if obj.present("budget") || obj.present("recent") {
			return nil, BadRequest(name, "'%s': budget and recent go with \"type\": \"delta\" only", name)
		}
		return out, nil
	default:
		return nil, BadRequest(name+".type", "'%s.type' must be \"delta\" or \"none\", got %q", name, typ)
	}
	for _, m := range []struct {
		key string
		dst *int
	}{{"budget", &out.Budget}, {"recent", &out.Recent}} {
		if !obj.present(m.key) {
			continue
		}
		at := name + "." + m.key
		var v int
		if err := json.Unmarshal(obj[m.key], &v); err != nil {
			return nil, BadRequest(at, "'%s' must be an integer number of KV pages, got %s", at, jsonKind(obj[m.key]))
		}
		if v < 1 || v > MaxSparsePages {
			return nil, BadRequest(at, "'%s' must be between 1 and %d pages, got %d", at, MaxSparsePages, v)
		}
		*m.dst = v
	}
	return out, nil
}

// paramOf finds the sampling field a validation message is about (the sampler names them the
// way the API does), so the error's param points at it.
func paramOf(msg string) string {
	for _, p := range []string{"temperature", "top_k", "top_p", "min_p", "repetition_penalty", "presence_penalty",
		"frequency_penalty"} {
		if strings.Contains(msg, p) {
			return p
		}
	}
	return ""
}

// ChatRequest is a parsed POST /v1/chat/completions body.
type ChatRequest struct {
	Common
	Messages       []chat.Message
	Logprobs       bool
	TopLogprobs    int
	Tools          []chat.Tool
	ToolChoice     ToolChoice
	ParallelCalls  bool
	EnableThinking *bool
	TemplateKwargs map[string]any
	// Grammar constrains the answer (response_format json_object or json_schema); nil: free.
	Grammar *grammar.Grammar
	// ToolSpecs are the tools entries as sent (TIMRUN's flat form or OpenAI's nested one, with
	// url, method and timeout where given), for tree mode; ResponseFormat the raw field.
	ToolSpecs      []json.RawMessage
	ResponseFormat json.RawMessage
	// Reasoning is the reasoning_format field; nil when absent.
	Reasoning *reasoningFormat
	// TreeMode is set by the server when the request runs as a task tree.
	TreeMode bool
	// SessionID is the session_id field ("" when absent): the session whose memory the
	// request reads and adds its turn to. The server checks its form (it may come as the
	// X-Session-Id header instead).
	SessionID string
}

// ContextMaxTokens is the answer's share of the context that the prompt must leave: max_tokens,
// or nothing in tree mode, where pruning lets the answer outgrow the context.
func (r *ChatRequest) ContextMaxTokens() int {
	if r.TreeMode {
		return 0
	}
	return r.MaxTokens
}

// reasoningFormat is the reasoning_format request field: {"type": "tree", ...} turns task-tree
// decoding on (every member but type optional); "text" (or llama.cpp's string values "none",
// "auto", "deepseek") leaves it off, even under arbor serve --tree.
type reasoningFormat struct {
	Tree     bool
	MaxDepth int // 0: the default (3)
	// MaxTextChars bounds each thought, conclusion and answer (0: the server's default).
	MaxTextChars int
	Buffer       *int
	Policy       engine.PositionPolicy
	Schema       json.RawMessage
}

func parseReasoningFormat(raw json.RawMessage) (*reasoningFormat, *APIError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		switch s {
		case "tree":
			return &reasoningFormat{Tree: true}, nil
		case "text", "none", "auto", "deepseek", "deepseek-legacy":
			return &reasoningFormat{}, nil
		}
		return nil, BadRequest("reasoning_format",
			"'reasoning_format' must be \"tree\", \"text\" or {\"type\": \"tree\", ...}, got %q", s)
	}
	var rf struct {
		Type     string          `json:"type"`
		MaxDepth *int            `json:"max_depth"`
		MaxText  *int            `json:"max_text_chars"`
		Buffer   *int            `json:"pruning_buffer"`
		Policy   *string         `json:"position_policy"`
		Schema   json.RawMessage `json:"schema"`
	}
	if ae := decodeAs(raw, "reasoning_format", &rf, `{"type": "tree", "max_depth": int, "max_text_chars": int, `+
		`"pruning_buffer": int, "position_policy": "reencode" | "shift" | "gap", "schema": object}`); ae != nil {
		return nil, ae
	}
	out := &reasoningFormat{}
	switch rf.Type {
	case "tree":
		out.Tree = true
	case "text", "none":
		return out, nil
	default:
		return nil, BadRequest("reasoning_format.type", "'reasoning_format.type' must be \"tree\" or \"text\", got %q",
			rf.Type)
	}
	if rf.MaxDepth != nil {
		if *rf.MaxDepth < 1 || *rf.MaxDepth > maxTreeDepth {
			return nil, BadRequest("reasoning_format.max_depth",
				"'reasoning_format.max_depth' must be between 1 and %d, got %d", maxTreeDepth, *rf.MaxDepth)
		}
		out.MaxDepth = *rf.MaxDepth
	}
	if rf.MaxText != nil {
		if *rf.MaxText < 1 || *rf.MaxText > tree.MaxTextChars {
			return nil, BadRequest("reasoning_format.max_text_chars",
				"'reasoning_format.max_text_chars' must be between 1 and %d, got %d", tree.MaxTextChars, *rf.MaxText)
		}
		out.MaxTextChars = *rf.MaxText
	}
	if rf.Buffer != nil && *rf.Buffer < 0 {
		return nil, BadRequest("reasoning_format.pruning_buffer",
			"'reasoning_format.pruning_buffer' must be 0 or more, got %d", *rf.Buffer)
	}
	out.Buffer = rf.Buffer
	if rf.Policy != nil {
		p, ok := engine.ParsePositionPolicy(*rf.Policy)
		if !ok {
			return nil, BadRequest("reasoning_format.position_policy",
				"'reasoning_format.position_policy' must be \"reencode\", \"shift\" or \"gap\", got %q", *rf.Policy)
		}
		out.Policy = p
	}
	if sc := bytes.TrimSpace(rf.Schema); len(sc) > 0 && !bytes.Equal(sc, []byte("null")) {
		if sc[0] != '{' {
			return nil, BadRequest("reasoning_format.schema",
				"'reasoning_format.schema' must be a JSON Schema object, got %s", jsonKind(sc))
		}
		// The tracker follows the answer by the TIM field names; under any other schema it would
		// lose its way at the first token, and no tool would run nor anything be pruned.
		if !tree.IsTIM(sc) {
			return nil, BadRequest("reasoning_format.schema", "'reasoning_format.schema' is not a task-tree schema: "+
				"it must be an object schema (or a local \"$ref\" to one) whose \"properties\" include \"reasoning\" "+
				"(the list of tasks) and \"answer\"; leave it out for the TIM response schema over the request's tools")
		}
		if out.MaxTextChars > 0 {
			return nil, BadRequest("reasoning_format.max_text_chars",
				"'reasoning_format.max_text_chars' applies to the TIM response schema; with your own "+
					"'reasoning_format.schema', bound its strings with maxLength there")
		}
		out.Schema = sc
	}
	return out, nil
}

// maxTreeDepth bounds max_depth: the schema is unrolled once per level.
const maxTreeDepth = 8

// ToolChoice is "none", "auto", "required", or a named function (Mode "function").
type ToolChoice struct {
	Mode     string
	Function string
}

var roles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

// parseStart reads a body's fields and the ones both endpoints share.
func parseStart(body []byte) (fields, Common, *APIError) {
	f, ae := parseBody(body)
	if ae != nil {
		return nil, Common{}, ae
	}
	cm, ae := parseCommon(f)
	return f, cm, ae
}

// ParseChat parses a POST /v1/chat/completions body.
func ParseChat(body []byte) (*ChatRequest, *APIError) {
	f, cm, ae := parseStart(body)
	if ae != nil {
		return nil, ae
	}
	r := &ChatRequest{Common: cm, ParallelCalls: true}
	if !f.present("messages") {
		return nil, BadRequest("messages", "'messages' is required: a non-empty array of messages")
	}
	var raws []json.RawMessage
	if ae := get(f, "messages", &raws, "an array of messages"); ae != nil {
		return nil, ae
	}
	if len(raws) == 0 {
		return nil, BadRequest("messages", "'messages' must not be empty")
	}
	for i, raw := range raws {
		m, ae := parseMessage(raw, i)
		if ae != nil {
			return nil, ae
		}
		r.Messages = append(r.Messages, m)
	}
	if ae := get(f, "logprobs", &r.Logprobs, "a boolean"); ae != nil {
		return nil, ae
	}
	if ae := get(f, "session_id", &r.SessionID, "a string"); ae != nil {
		return nil, ae
	}
	if f.present("session_id") && r.SessionID == "" {
		return nil, BadRequest("session_id", "'session_id' must not be empty: 1 to 128 characters of [A-Za-z0-9._:-]")
	}
	if f.present("top_logprobs") {
		if ae := get(f, "top_logprobs", &r.TopLogprobs, "an integer"); ae != nil {
			return nil, ae
		}
		if r.TopLogprobs < 0 || r.TopLogprobs > 20 {
			return nil, BadRequest("top_logprobs", "'top_logprobs' must be between 0 and 20, got %d", r.TopLogprobs)
		}
		if r.TopLogprobs > 0 && !r.Logprobs {
			return nil, BadRequest("top_logprobs", "'top_logprobs' needs \"logprobs\": true")
		}
	}
	if ae := parseTools(f, r); ae != nil {
		return nil, ae
	}
	if f.present("response_format") {
		g, ae := parseResponseFormat(f["response_format"])
		if ae != nil {
			return nil, ae
		}
		r.Grammar = g
		r.ResponseFormat = f["response_format"]
	}
	if f.present("reasoning_format") {
		rf, ae := parseReasoningFormat(f["reasoning_format"])
		if ae != nil {
			return nil, ae
		}
		r.Reasoning = rf
	}
	if f.present("chat_template_kwargs") {
		var kw map[string]json.RawMessage
		if ae := get(f, "chat_template_kwargs", &kw, "an object"); ae != nil {
			return nil, ae
		}
		r.TemplateKwargs = map[string]any{}
		for k, raw := range kw {
			if k == "enable_thinking" {
				var b bool
				if ae := decodeAs(raw, "chat_template_kwargs.enable_thinking", &b, "a boolean"); ae != nil {
					return nil, ae
				}
				r.EnableThinking = &b
				continue
			}
			if reservedTemplateVars[k] {
				return nil, BadRequest("chat_template_kwargs",
					"'chat_template_kwargs.%s' would override a variable the server sets", k)
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, BadRequest("chat_template_kwargs", "'chat_template_kwargs.%s': %v", k, err)
			}
			r.TemplateKwargs[k] = v
		}
	}
	return r, nil
}

// reservedTemplateVars are the template variables the renderer sets itself.
var reservedTemplateVars = map[string]bool{
	"messages": true, "tools": true, "add_generation_prompt": true, "bos_token": true,
	"eos_token": true, "raise_exception": true, "strftime_now": true,
}

// parseMessage checks one message's field types (so that a wrong one is named with its index)
// before handing it to chat.Message's decoder.
func parseMessage(raw json.RawMessage, i int) (chat.Message, *APIError) {
	at := fmt.Sprintf("messages[%d]", i)
	var mf fields
	if err := json.Unmarshal(raw, &mf); err != nil {
		return chat.Message{}, BadRequest(at, "'%s' must be an object, got %s", at, jsonKind(raw))
	}
	var role string
	if !mf.present("role") {
		return chat.Message{}, BadRequest(at+".role", "'%s.role' is required", at)
	}
	if ae := get(mf, "role", &role, "a string"); ae != nil {
		ae.Message = strings.Replace(ae.Message, "'role'", "'"+at+".role'", 1)
		ae.Param = StrPtr(at + ".role")
		return chat.Message{}, ae
	}
	if !roles[role] {
		return chat.Message{}, BadRequest(at+".role",
			"'%s.role' must be one of system, developer, user, assistant, tool; got %q", at, role)
	}
	for _, name := range []string{"name", "tool_call_id", "reasoning_content"} {
		var s string
		if ae := get(mf, name, &s, "a string"); ae != nil {
			return chat.Message{}, BadRequest(at+"."+name, "'%s.%s' must be a string, got %s", at, name,
				jsonKind(mf[name]))
		}
	}
	if mf.present("content") {
		c := bytes.TrimSpace(mf["content"])
		switch c[0] {
		case '"':
		case '[':
			var parts []struct {
				Type string           `json:"type"`
				Text *json.RawMessage `json:"text"`
			}
			if err := json.Unmarshal(c, &parts); err != nil {
				return chat.Message{}, BadRequest(at+".content",
					"'%s.content' must be a string or an array of {\"type\": \"text\", \"text\": string} parts", at)
			}
			for j, p := range parts {
				if p.Type != "text" {
					return chat.Message{}, BadRequest(fmt.Sprintf("%s.content[%d].type", at, j),
						"'%s.content[%d]' has type %q; only text parts are supported", at, j, p.Type)
				}
				var s string
				if p.Text == nil || json.Unmarshal(*p.Text, &s) != nil {
					return chat.Message{}, BadRequest(fmt.Sprintf("%s.content[%d].text", at, j),
						"'%s.content[%d].text' must be a string", at, j)
				}
			}
		default:
			return chat.Message{}, BadRequest(at+".content",
				"'%s.content' must be a string, an array of text parts or null, got %s", at, jsonKind(c))
		}
	} else if role != "assistant" {
		return chat.Message{}, BadRequest(at+".content", "'%s.content' is required for a %s message", at, role)
	}
	if mf.present("tool_calls") {
		var calls []struct {
			ID       *string `json:"id"`
			Type     *string `json:"type"`
			Function struct {
				Name      string  `json:"name"`
				Arguments *string `json:"arguments"`
			} `json:"function"`
		}
		if err := json.Unmarshal(mf["tool_calls"], &calls); err != nil {
			return chat.Message{}, BadRequest(at+".tool_calls",
				"'%s.tool_calls' must be an array of {\"id\", \"type\": \"function\", \"function\": {\"name\": "+
					"string, \"arguments\": string}}: %v", at, err)
		}
	}
	var m chat.Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return chat.Message{}, BadRequest(at, "'%s': %v", at, err)
	}
	if m.Role == "developer" { // OpenAI's newer name for the system role; templates know "system"
		m.Role = "system"
	}
	return m, nil
}

func parseTools(f fields, r *ChatRequest) *APIError {
	if f.present("tools") {
		var raws []json.RawMessage
		if ae := get(f, "tools", &raws, "an array of tools"); ae != nil {
			return ae
		}
		for i, raw := range raws {
			at := fmt.Sprintf("tools[%d]", i)
			var t chat.Tool
			if err := json.Unmarshal(raw, &t); err != nil {
				return BadRequest(at,
					"'%s' must be {\"type\": \"function\", \"function\": {\"name\": string, \"description\": "+
						"string, \"parameters\": object}}: %v", at, err)
			}
			if t.Function.Name == "" {
				// TIMRUN's flat form: {"type": "function", "name": ..., "parameters": ..., "url": ...}.
				var flat chat.FunctionDef
				if json.Unmarshal(raw, &flat) == nil && flat.Name != "" {
					t.Function = flat
				}
			}
			r.ToolSpecs = append(r.ToolSpecs, raw)
			if t.Type != "" && t.Type != "function" {
				return BadRequest(at+".type", "'%s.type' must be \"function\", got %q", at, t.Type)
			}
			t.Type = "function"
			if t.Function.Name == "" {
				return BadRequest(at+".function.name", "'%s.function.name' is required", at)
			}
			p := bytes.TrimSpace(t.Function.Parameters)
			if len(p) > 0 && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
				return BadRequest(at+".function.parameters",
					"'%s.function.parameters' must be a JSON Schema object, got %s", at, jsonKind(p))
			}
			r.Tools = append(r.Tools, t)
		}
	}
	r.ToolChoice = ToolChoice{Mode: "auto"}
	if len(r.Tools) == 0 {
		r.ToolChoice.Mode = "none"
	}
	if f.present("tool_choice") {
		raw := bytes.TrimSpace(f["tool_choice"])
		if raw[0] == '"' {
			var s string
			_ = json.Unmarshal(raw, &s)
			switch s {
			case "none", "auto", "required":
				r.ToolChoice = ToolChoice{Mode: s}
			default:
				return BadRequest("tool_choice",
					"'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", "+
						"\"function\": {\"name\": ...}}, got %q", s)
			}
		} else {
			var named struct {
				Type     string `json:"type"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if ae := decodeAs(raw, "tool_choice", &named, "a string or {\"type\": \"function\", \"function\": "+
				"{\"name\": string}}"); ae != nil {
				return ae
			}
			if named.Type != "function" || named.Function.Name == "" {
				return BadRequest("tool_choice",
					"'tool_choice' must be {\"type\": \"function\", \"function\": {\"name\": string}}")
			}
			r.ToolChoice = ToolChoice{Mode: "function", Function: named.Function.Name}
		}
		if r.ToolChoice.Mode != "none" && len(r.Tools) == 0 {
			return BadRequest("tool_choice", "'tool_choice' %q needs 'tools'", r.ToolChoice.Mode)
		}
		if r.ToolChoice.Mode == "function" {
			found := false
			for _, t := range r.Tools {
				found = found || t.Function.Name == r.ToolChoice.Function
			}
			if !found {
				return BadRequest("tool_choice", "'tool_choice' names function %q, which is not in 'tools'",
					r.ToolChoice.Function)
			}
		}
	}
	if ae := get(f, "parallel_tool_calls", &r.ParallelCalls, "a boolean"); ae != nil {
		return ae
	}
	return nil
}

// CompletionRequest is a parsed POST /v1/completions body.
type CompletionRequest struct {
	Common
	// Prompts are texts or token ids: exactly one of Text and IDs is set per prompt.
	Prompts  []PromptInput
	Logprobs *int // completions' logprobs is the number of alternatives (0 to 5 in OpenAI; 20 here)
}

// PromptInput is one prompt of a completions request.
type PromptInput struct {
	Text string
	IDs  []int32
}

// ParseCompletion parses a POST /v1/completions body.
func ParseCompletion(body []byte) (*CompletionRequest, *APIError) {
	f, cm, ae := parseStart(body)
	if ae != nil {
		return nil, ae
	}
	r := &CompletionRequest{Common: cm}
	if !f.present("prompt") {
		return nil, BadRequest("prompt",
			"'prompt' is required: a string, an array of strings, an array of token ids or an array of arrays "+
				"of token ids")
	}
	if r.Prompts, ae = parsePrompt(f["prompt"]); ae != nil {
		return nil, ae
	}
	if len(r.Prompts)*r.N > MaxN {
		return nil, BadRequest("prompt", "%d prompts times n=%d is more than %d choices in one request", len(r.Prompts),
			r.N, MaxN)
	}
	if f.present("logprobs") {
		var n int
		if ae := get(f, "logprobs", &n, "an integer (the number of most likely alternatives, 0 to 20)"); ae != nil {
			return nil, ae
		}
		if n < 0 || n > 20 {
			return nil, BadRequest("logprobs", "'logprobs' must be between 0 and 20, got %d", n)
		}
		r.Logprobs = &n
	}
	var echo bool
	if ae := get(f, "echo", &echo, "a boolean"); ae != nil {
		return nil, ae
	}
	if echo {
		return nil, BadRequest("echo", "'echo' is not supported yet")
	}
	if f.present("suffix") {
		return nil, BadRequest("suffix", "'suffix' (fill-in-the-middle) is not supported")
	}
	if f.present("best_of") {
		var b int
		if ae := get(f, "best_of", &b, "an integer"); ae != nil {
			return nil, ae
		}
		if b != 1 && b != r.N {
			return nil, BadRequest("best_of", "'best_of' other than n is not supported")
		}
	}
	return r, nil
}

const promptShapes = "a string, an array of strings, an array of token ids or an array of arrays of token ids"

// parsePrompt reads the prompt field: one text, one list of token ids, or up to MaxN of either
// (an array of strings, an array of arrays of ids). Every element is checked here, so that a
// null, a fraction or a negative number is a 400 that says where it is rather than a zero id.
// Only the one flat id list may be long; it is decoded in one pass. The other arrays are read
// element by element and refused past MaxN elements, before the rest is decoded.
func parsePrompt(raw json.RawMessage) ([]PromptInput, *APIError) {
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '"':
		var s string
		if ae := decodeAs(raw, "prompt", &s, promptShapes); ae != nil {
			return nil, ae
		}
		return []PromptInput{{Text: s}}, nil
	case '[':
	default:
		return nil, BadRequest("prompt", "'prompt' must be %s, got %s", promptShapes, jsonKind(raw))
	}
	first := bytes.TrimLeft(raw[1:], " \t\r\n")
	switch {
	case len(first) == 0 || first[0] == ']':
		return nil, BadRequest("prompt", "'prompt' must not be empty: want %s", promptShapes)
	case first[0] == '-' || (first[0] >= '0' && first[0] <= '9'):
		ids, ae := parseIDs(raw, "prompt")
		if ae != nil {
			return nil, ae
		}
		return []PromptInput{{IDs: ids}}, nil
	case first[0] != '"' && first[0] != '[':
		return nil, BadRequest("prompt", "'prompt[0]' must be a string, a token id or an array of token ids, got %s",
			jsonKind(first))
	}
	wantText := first[0] == '"'
	var out []PromptInput
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // the opening bracket
		return nil, BadRequest("prompt", "'prompt' must be %s", promptShapes)
	}
	for i := 0; dec.More(); i++ {
		at := fmt.Sprintf("prompt[%d]", i)
		if i == MaxN {
			return nil, BadRequest("prompt", "'prompt' holds more than %d prompts; a request makes at most %d choices "+
				"(prompts times n)", MaxN, MaxN)
		}
		var el json.RawMessage
		if err := dec.Decode(&el); err != nil {
			return nil, BadRequest("prompt", "'%s' is not valid JSON: %v", at, err)
		}
		el = bytes.TrimSpace(el)
		switch {
		case wantText && el[0] == '"':
			var s string
			if err := json.Unmarshal(el, &s); err != nil {
				return nil, BadRequest("prompt", "'%s' is not a valid JSON string", at)
			}
			out = append(out, PromptInput{Text: s})
		case !wantText && el[0] == '[':
			ids, ae := parseIDs(el, at)
			if ae != nil {
				return nil, ae
			}
			if len(ids) == 0 {
				return nil, BadRequest("prompt", "'%s' is empty: a prompt needs at least one token id", at)
			}
			out = append(out, PromptInput{IDs: ids})
		case wantText:
			return nil, BadRequest("prompt", "'%s' is %s, but 'prompt[0]' is a string: an array of prompts must hold "+
				"only strings", at, jsonKind(el))
		default:
			return nil, BadRequest("prompt",
				"'%s' is %s, but 'prompt[0]' is an array of token ids: an array of prompts "+
					"must hold only arrays of token ids", at, jsonKind(el))
		}
	}
	return out, nil
}

// parseIDs reads a JSON array that must hold only token ids: integers from 0 to MaxInt32.
// encoding/json would take null for 0 and needs a reflective call per element; this reads a
// list of a million ids in milliseconds. arr is valid JSON (the whole body was checked), so
// cutting at commas splits it into its elements up to the first element that is not an
// integer, whatever that one holds; its kind is what the error reports. at names the list.
func parseIDs(arr []byte, at string) ([]int32, *APIError) {
	inner := bytes.TrimSpace(arr)
	inner = bytes.TrimSpace(inner[1 : len(inner)-1])
	var ids []int32
	for len(inner) > 0 {
		el := inner
		if i := bytes.IndexByte(inner, ','); i >= 0 {
			el, inner = inner[:i], inner[i+1:]
		} else {
			inner = nil
		}
		el = bytes.TrimSpace(el)
		id, ok := parseID(el)
		if !ok {
			return nil, BadRequest("prompt", "'%s' must hold only token ids (integers from 0 to %d), got %s",
				at, math.MaxInt32, jsonKind(el))
		}
		ids = append(ids, id)
	}
	if ids == nil {
		ids = []int32{}
	}
	return ids, nil
}

// parseID reads a token id written as JSON: decimal digits, at most MaxInt32. Fractions,
// exponents and signs are refused, as are leading zeros (which JSON does not allow).
func parseID(b []byte) (int32, bool) {
	if len(b) == 0 || len(b) > 10 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if v > math.MaxInt32 {
		return 0, false
	}
	return int32(v), true
}

// ReadBody reads a request body, turning an oversized one into a 413 (the reader is an
// http.MaxBytesReader set up by the body-limit middleware).
func ReadBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return b, nil
}

// parseResponseFormat turns response_format into a grammar: nil for "text", any JSON object for
// "json_object", the schema's grammar for "json_schema". A schema keyword the grammar cannot
// enforce is a 400 that names it.
func parseResponseFormat(raw json.RawMessage) (*grammar.Grammar, *APIError) {
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict *bool           `json:"strict"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return nil, BadRequest("response_format",
			"'response_format' must be {\"type\": \"text\" | \"json_object\" | \"json_schema\", ...}: %v", err)
	}
	switch rf.Type {
	case "text":
		return nil, nil
	case "json_object":
		return jsonObjectGrammar(), nil
	case "json_schema":
		if rf.JSONSchema == nil {
			return nil, BadRequest("response_format",
				"'response_format.json_schema' is required for type \"json_schema\"")
		}
		if rf.JSONSchema.Name == "" {
			return nil, BadRequest("response_format", "'response_format.json_schema.name' is required")
		}
		schema := bytes.TrimSpace(rf.JSONSchema.Schema)
		if len(schema) == 0 || bytes.Equal(schema, []byte("null")) {
			return jsonObjectGrammar(), nil
		}
		g, err := CompileSchema(schema)
		if err != nil {
			return nil, SchemaError("response_format", "'response_format.json_schema.schema'", err)
		}
		return g, nil
	}
	return nil, BadRequest("response_format",
		"'response_format.type' must be \"text\", \"json_object\" or \"json_schema\", got %q", rf.Type)
}

// SchemaError is the 400 for a schema the grammar compiler refused.
func SchemaError(param, what string, err error) *APIError {
	var ue *grammar.UnsupportedError
	if errors.As(err, &ue) {
		return BadRequest(param, "%s uses a keyword Arbor cannot enforce: %v", what, ue)
	}
	return BadRequest(param, "%s is not a usable JSON Schema: %v", what, err)
}

var jsonObjectGrammar = sync.OnceValue(grammar.JSONObject)
