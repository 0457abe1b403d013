// Package chat renders a model's own Jinja chat template the way Hugging Face
// transformers' apply_chat_template does, so that the prompt Arbor feeds a
// model is byte-for-byte the prompt the model was trained on.
//
// Templates run on gonja v2 configured like HF's environment (trim_blocks and
// lstrip_blocks on, keep_trailing_newline off, no autoescaping) with the pieces
// HF adds or changes: raise_exception, strftime_now, bos_token/eos_token,
// a tojson that is Python's json.dumps, Python-exact string methods and
// insertion-ordered mappings. See env.go for the list.
//
// Inputs use the shapes of OpenAI's chat-completions API. They are handed to
// the template the way HF-based servers (vLLM, SGLang) hand them over:
//
//   - content is always a string; an array of text parts is joined with "\n"
//     (as vLLM does for string-content templates); a null content is "".
//   - tool call arguments (a JSON string on the wire) are parsed into a
//     mapping, which is what HF templates expect ("arguments" that are not
//     valid JSON are passed through as the original string).
//   - optional fields (name, tool_calls, tool_call_id, reasoning_content) are
//     absent from the message mapping when empty, so "is defined" tests behave
//     as they do for a client that did not send them.
//   - tools are mappings {type, function: {name, description, parameters}}
//     with parameters decoded from the client's JSON, keeping its key order;
//     with no tools, tools is None, as in HF.
//
// Known differences from Python's Jinja2 that remain (gonja limitations; the
// Qwen3, Llama 3 and test templates do not run into them):
//
//   - gonja does not tell None from undefined: a None value is "not defined"
//     and prints as "" rather than "None". Render omits absent optional keys
//     instead of passing None, which keeps the usual "is defined and is not
//     none" tests right.
//   - s[i] on a string indexes bytes and rejects s[-len(s)]; slices (s[a:b],
//     s[::-1]) and lists (pyList) index by element as Python does.
//   - JSON integers beyond int64 become floats; dict(**kw) orders keys by name.
package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// ContentPart is one element of an OpenAI array-of-parts message content.
// Only "text" parts can be rendered into a chat template.
type ContentPart struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

// FunctionCall is the function half of an OpenAI tool call. Arguments is the
// JSON text the model (or client) produced.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ToolCall is an OpenAI assistant tool call. Type is "function" (the default
// when empty).
type ToolCall struct {
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// Message is one chat message in OpenAI's shape. Content and Parts are
// alternatives: set at most one. On the wire both travel as "content" (a
// string, an array of parts, or null); see MarshalJSON and UnmarshalJSON.
type Message struct {
	Role             string
	Content          string
	Parts            []ContentPart
	Name             string
	ToolCalls        []ToolCall
	ToolCallID       string
	ReasoningContent string
}

// FunctionDef describes a callable function. Parameters is a JSON Schema kept
// as the client sent it, so its key order survives into the prompt.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// Tool is an OpenAI function tool spec. Type is "function" (the default when
// empty).
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// Input is everything a template render sees.
type Input struct {
	Messages            []Message `json:"messages"`
	Tools               []Tool    `json:"tools,omitempty"`
	AddGenerationPrompt bool      `json:"add_generation_prompt"`
	// BOSToken and EOSToken become bos_token and eos_token; an empty one is
	// left undefined, as HF does for a tokenizer without that token.
	BOSToken string `json:"bos_token,omitempty"`
	EOSToken string `json:"eos_token,omitempty"`
	// EnableThinking becomes enable_thinking (Qwen3) when non-nil.
	EnableThinking *bool `json:"enable_thinking,omitempty"`
	// Extra holds further template variables (HF's **kwargs to
	// apply_chat_template), e.g. "date_string". Values may be strings,
	// booleans, numbers, nil, json.RawMessage, []any and map[string]any
	// (whose keys are sorted, Go maps having no order). Keys must not clash
	// with the variables set above.
	Extra map[string]any `json:"extra,omitempty"`
	// Now is the clock for strftime_now; the zero value means time.Now().
	// strftime_now formats it in its own location, as Python's
	// datetime.now() formats local time.
	Now time.Time `json:"-"`
}

// TemplateError is the error a template raises with raise_exception, usually
// because the conversation does not fit the model's format (for example roles
// that do not alternate). Callers may report it as a client error.
type TemplateError struct {
	Message string
}

func (e *TemplateError) Error() string {
	return "template raised an exception: " + e.Message
}

// Template is a compiled chat template. It is safe for concurrent use.
type Template struct {
	tpl *exec.Template
}

const rootName = "chat_template"

// Compile parses a chat template once for any number of renders.
func Compile(source string) (t *Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("chat: compile template: panic: %v", r)
		}
	}()
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = false // lstripBlocks below does it the Jinja way

	cfg.KeepTrailingNewline = false
	cfg.AutoEscape = false
	tpl, err := exec.NewTemplate(rootName, cfg, &rootLoader{source: lstripBlocks(source)}, environment)
	if err != nil {
		return nil, fmt.Errorf("chat: compile template: %w", err)
	}
	return &Template{tpl: tpl}, nil
}

// reservedNames are the variables Render sets itself; Extra may not use them.
var reservedNames = map[string]bool{
	"messages": true, "tools": true, "add_generation_prompt": true,
	"bos_token": true, "eos_token": true, "enable_thinking": true,
	"raise_exception": true, "strftime_now": true,
}

// Render renders the template for one conversation.
func (t *Template) Render(in Input) (string, error) {
	return t.render(in, nil)
}

// render renders with every string that came from the caller's Input passed through rw
// (nil: as given).
func (t *Template) render(in Input, rw *rewriter) (out string, err error) {
	messages, err := messagesValue(in.Messages, rw)
	if err != nil {
		return "", fmt.Errorf("chat: render: %w", err)
	}
	var tools any // HF passes tools=None when there are none
	if len(in.Tools) > 0 {
		if tools, err = toolsValue(in.Tools, rw); err != nil {
			return "", fmt.Errorf("chat: render: %w", err)
		}
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	var raised *TemplateError
	data := map[string]any{
		"messages":              messages,
		"tools":                 tools,
		"add_generation_prompt": in.AddGenerationPrompt,
		"raise_exception": func(args *exec.VarArgs) (any, error) {
			msg := ""
			if len(args.Args) > 0 {
				msg = args.Args[0].String()
			}
			raised = &TemplateError{Message: msg}
			return nil, raised
		},
		"strftime_now": func(args *exec.VarArgs) (any, error) {
			if len(args.Args) != 1 || !args.Args[0].IsString() {
				return nil, errors.New("strftime_now takes one format string")
			}
			return strftime(now, args.Args[0].String()), nil
		},
	}
	if in.BOSToken != "" {
		data["bos_token"] = in.BOSToken
	}
	if in.EOSToken != "" {
		data["eos_token"] = in.EOSToken
	}
	if in.EnableThinking != nil {
		data["enable_thinking"] = *in.EnableThinking
	}
	for k, v := range in.Extra {
		if reservedNames[k] {
			return "", fmt.Errorf("chat: render: extra variable %q clashes with a variable the renderer sets", k)
		}
		tv, err := templateValue(v, rw)
		if err != nil {
			return "", fmt.Errorf("chat: render: extra variable %q: %w", k, err)
		}
		data[k] = tv
	}

	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("chat: render: template engine panic: %v", r)
		}
	}()
	var buf bytes.Buffer
	if err := t.tpl.Execute(&buf, exec.NewContext(data)); err != nil {
		if raised != nil {
			return "", fmt.Errorf("chat: render: %w", raised)
		}
		return "", fmt.Errorf("chat: render: %w", err)
	}
	return buf.String(), nil
}

// text returns the message content as the string templates receive.
func (m *Message) text(rw *rewriter) (string, error) {
	if len(m.Parts) == 0 {
		return rw.str(m.Content), nil
	}
	if m.Content != "" {
		return "", fmt.Errorf("message has both Content and Parts")
	}
	texts := make([]string, 0, len(m.Parts))
	for i, p := range m.Parts {
		if p.Type != "text" {
			return "", fmt.Errorf("content part %d has type %q; only text parts can be rendered", i, p.Type)
		}
		texts = append(texts, rw.str(p.Text))
	}
	return strings.Join(texts, "\n"), nil
}

// messagesValue builds the list of message mappings the template iterates.
func messagesValue(msgs []Message, rw *rewriter) (pyList, error) {
	out := make(pyList, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		content, err := m.text(rw)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		d := newDict()
		d.set("role", rw.str(m.Role))
		d.set("content", content)
		if m.Name != "" {
			d.set("name", rw.str(m.Name))
		}
		if len(m.ToolCalls) > 0 {
			calls := make(pyList, 0, len(m.ToolCalls))
			for _, tc := range m.ToolCalls {
				c := newDict()
				if tc.ID != "" {
					c.set("id", rw.str(tc.ID))
				}
				c.set("type", rw.str(orDefault(tc.Type, "function")))
				f := newDict()
				f.set("name", rw.str(tc.Function.Name))
				f.set("arguments", argumentsValue(tc.Function.Arguments, rw))
				c.set("function", f.d)
				calls = append(calls, c.d)
			}
			d.set("tool_calls", calls)
		}
		if m.ToolCallID != "" {
			d.set("tool_call_id", rw.str(m.ToolCallID))
		}
		if m.ReasoningContent != "" {
			d.set("reasoning_content", rw.str(m.ReasoningContent))
		}
		out = append(out, d.d)
	}
	return out, nil
}

// argumentsValue turns tool call arguments into the mapping HF templates
// expect; text that is not JSON is passed on unchanged.
func argumentsValue(args string, rw *rewriter) any {
	v, err := decodeJSON([]byte(args), rw)
	if err != nil {
		return rw.str(args)
	}
	return v
}

func toolsValue(tools []Tool, rw *rewriter) (pyList, error) {
	out := make(pyList, 0, len(tools))
	for i, t := range tools {
		d := newDict()
		d.set("type", rw.str(orDefault(t.Type, "function")))
		f := newDict()
		f.set("name", rw.str(t.Function.Name))
		if t.Function.Description != "" {
			f.set("description", rw.str(t.Function.Description))
		}
		if len(bytes.TrimSpace(t.Function.Parameters)) > 0 {
			p, err := decodeJSON(t.Function.Parameters, rw)
			if err != nil {
				return nil, fmt.Errorf("tool %d (%s) parameters: %w", i, t.Function.Name, err)
			}
			f.set("parameters", p)
		}
		d.set("function", f.d)
		out = append(out, d.d)
	}
	return out, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// wireMessage is Message as it travels in OpenAI JSON.
type wireMessage struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	Name             string          `json:"name,omitempty"`
	ToolCalls        []ToolCall      `json:"tool_calls,omitempty"`
	ToolCallID       string          `json:"tool_call_id,omitempty"`
	ReasoningContent string          `json:"reasoning_content,omitempty"`
}

// UnmarshalJSON accepts OpenAI's content forms: a string, an array of content
// parts (into Parts) or null.
func (m *Message) UnmarshalJSON(b []byte) error {
	var w wireMessage
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("chat: decode message: %w", err)
	}
	*m = Message{Role: w.Role, Name: w.Name, ToolCalls: w.ToolCalls, ToolCallID: w.ToolCallID,
		ReasoningContent: w.ReasoningContent}
	c := bytes.TrimSpace(w.Content)
	switch {
	case len(c) == 0 || bytes.Equal(c, []byte("null")):
	case c[0] == '"':
		if err := json.Unmarshal(c, &m.Content); err != nil {
			return fmt.Errorf("chat: decode message content: %w", err)
		}
	case c[0] == '[':
		if err := json.Unmarshal(c, &m.Parts); err != nil {
			return fmt.Errorf("chat: decode message content parts: %w", err)
		}
	default:
		return fmt.Errorf("chat: decode message content: want a string, an array of parts or null, got %.20s", c)
	}
	return nil
}

// MarshalJSON writes content as a string, or as an array when Parts is set.
func (m Message) MarshalJSON() ([]byte, error) {
	w := wireMessage{Role: m.Role, Name: m.Name, ToolCalls: m.ToolCalls, ToolCallID: m.ToolCallID,
		ReasoningContent: m.ReasoningContent}
	var err error
	if len(m.Parts) > 0 {
		w.Content, err = json.Marshal(m.Parts)
	} else {
		w.Content, err = json.Marshal(m.Content)
	}
	if err != nil {
		return nil, fmt.Errorf("chat: encode message content: %w", err)
	}
	return json.Marshal(w)
}

// rootLoader serves the template source and nothing else: a chat template
// that tries to include or import another file gets an error instead of a
// file from the server's disk.
type rootLoader struct {
	source string
}

func (l *rootLoader) Read(path string) (io.Reader, error) {
	if path != rootName {
		return nil, fmt.Errorf("chat templates cannot load other templates (asked for %q)", path)
	}
	return strings.NewReader(l.source), nil
}

func (l *rootLoader) Resolve(path string) (string, error) {
	if path != rootName {
		return "", fmt.Errorf("chat templates cannot load other templates (asked for %q)", path)
	}
	return path, nil
}

func (l *rootLoader) Inherit(string) (loaders.Loader, error) { return l, nil }
