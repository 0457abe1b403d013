package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/server/openai"
	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/httptool"
	"github.com/arborlabs/arbor/tree"
)

// TreeOptions configure task-tree decoding (TIMRUN's way: the answer is a JSON task tree, tools
// run inside the decode, finished subtasks leave the KV cache).
type TreeOptions struct {
	// Default makes tree mode the default for every chat request (arbor serve --tree), so
	// that a TIMRUN client works unchanged; a request can still say reasoning_format "text".
	Default bool
	// AllowHosts are the hosts ("host" or "host:port") that tools declared in a request may
	// reach (arbor serve --allow-tool-host). Without any, such tools are refused with a 400.
	AllowHosts []string
	// Tools are the operator's tools (built-ins, a config file's HTTP and MCP tools): a
	// request's tools entry without a url names one of them, and a tree request without tools
	// gets them all.
	Tools []tools.Tool
	// Cache, when set, keeps tool results across requests (a request always caches its own).
	Cache *tools.Cache
	// MaxResponseBytes caps a request-declared tool's response (0: the tools package's
	// default).
	MaxResponseBytes int64
	// MaxTextChars bounds each thought, conclusion and answer of the TIM response schema
	// (arbor serve --tree-max-text; 0: unbounded); a request's reasoning_format.max_text_chars
	// overrides it. Not applied to a request's own schema.
	MaxTextChars int
}

// Tree-mode defaults, as TIMRUN's.
const (
	defaultTreeDepth  = 3
	defaultTreeBuffer = 2
)

// treeSetup is a chat request's tree mode, resolved against the server's options.
type treeSetup struct {
	depth, buffer int
	policy        engine.PositionPolicy
	set           *tools.Set
	grammar       *grammar.Grammar
}

// treeFor resolves whether req runs in tree mode and with what: its grammar (the TIM response
// schema over its tools, or the request's own schema), its tools, its pruning. nil: not tree
// mode. It may fill req.Tools with the operator's tools, so the chat template shows them.
func (s *Server) treeFor(req *openai.ChatRequest) (*treeSetup, error) {
	opt := &s.opt.Tree
	on := opt.Default
	var userSchema json.RawMessage
	if req.Reasoning != nil {
		on = req.Reasoning.Tree
		userSchema = req.Reasoning.Schema
	}
	if rfSchema := responseSchema(req.ResponseFormat); rfSchema != nil && tree.IsTIM(rfSchema) {
		// A response_format whose schema is the TIM response asks for the tree too.
		if req.Reasoning != nil && !req.Reasoning.Tree {
			return nil, openai.BadRequest("reasoning_format",
				"'reasoning_format' is \"text\" but 'response_format' holds a task-tree schema")
		}
		on = true
		if userSchema == nil {
			userSchema = rfSchema
		}
	} else if on && req.ResponseFormat != nil && req.Grammar != nil {
		if req.Reasoning != nil {
			return nil, openai.BadRequest("response_format",
				"'response_format' cannot constrain a task-tree answer: give the schema as 'reasoning_format.schema'")
		}
		on = false // --tree's default gives way to a request's own structured output
	}
	if !on {
		return nil, nil
	}
	ts := &treeSetup{depth: defaultTreeDepth, buffer: defaultTreeBuffer}
	maxText := opt.MaxTextChars
	if rf := req.Reasoning; rf != nil {
		if rf.MaxDepth > 0 {
			ts.depth = rf.MaxDepth
		}
		if rf.MaxTextChars > 0 {
			maxText = rf.MaxTextChars
		}
		if rf.Buffer != nil {
			ts.buffer = *rf.Buffer
		}
		ts.policy = rf.Policy
	}
	set, ae := s.treeTools(req)
	if ae != nil {
		return nil, ae
	}
	if opt.Cache != nil {
		set = set.WithCache(opt.Cache)
	}
	ts.set = set
	schema := userSchema
	if schema == nil {
		var specs []tree.ToolSpec
		for _, t := range set.Tools() {
			specs = append(specs, tree.ToolSpec{Name: t.Name(), Parameters: t.Parameters()})
		}
		var err error
		schema, err = tree.Schema(tree.SchemaOptions{MaxDepth: ts.depth, Tools: specs, MaxTextChars: maxText})
		if err != nil {
			return nil, openai.BadRequest("tools", "the task-tree schema over these tools cannot be built: %v", err)
		}
	}
	g, err := openai.CompileSchema(schema)
	if err != nil {
		return nil, openai.SchemaError("reasoning_format.schema", "the task-tree schema", err)
	}
	ts.grammar = g
	req.Grammar = g
	req.TreeMode = true
	// The tree is the whole answer: the model sees the tools (to know what it may call), but
	// its output is never parsed for calls in the template's format, nor split off as
	// <think> reasoning.
	req.ToolChoice = openai.ToolChoice{Mode: "auto"}
	if len(req.Tools) == 0 {
		req.ToolChoice.Mode = "none"
	}
	if req.EnableThinking == nil {
		off := false
		req.EnableThinking = &off
	}
	return ts, nil
}

// responseSchema is the schema of a json_schema response_format, or nil.
func responseSchema(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if json.Unmarshal(raw, &rf) != nil || rf.Type != "json_schema" || rf.JSONSchema == nil {
		return nil
	}
	if sc := bytes.TrimSpace(rf.JSONSchema.Schema); len(sc) > 0 && sc[0] == '{' {
		return sc
	}
	return nil
}

// treeTools builds the tools a tree request may call: each tools entry with a url becomes an
// HTTP tool (its host must be allowed), each without one names an operator tool; with no
// tools entries, the operator's tools.
func (s *Server) treeTools(req *openai.ChatRequest) (*tools.Set, *openai.APIError) {
	opt := &s.opt.Tree
	base, ae := s.operatorTools()
	if ae != nil {
		return nil, ae
	}
	if len(req.ToolSpecs) == 0 {
		for _, t := range base.Tools() {
			req.Tools = append(req.Tools, chat.Tool{Type: "function", Function: chat.FunctionDef{
				Name: t.Name(), Description: t.Description(), Parameters: t.Parameters()}})
		}
		return base.Clone(), nil // the schemas compiled once; a cache of its own
	}
	set, serr := tools.NewSet()
	if serr != nil {
		return nil, &openai.APIError{Status: http.StatusInternalServerError, Type: "server_error",
			Message: serr.Error()}
	}
	policy := &httptool.Policy{AllowHosts: opt.AllowHosts, MaxResponseBytes: opt.MaxResponseBytes}
	for i, raw := range req.ToolSpecs {
		at := fmt.Sprintf("tools[%d]", i)
		spec, err := httptool.ParseSpec(raw)
		if err != nil {
			return nil, openai.BadRequest(at, "'%s': %v", at, err)
		}
		var t tools.Tool
		if spec.URL != "" {
			if len(opt.AllowHosts) == 0 {
				return nil, openai.BadRequest(at+".url",
					"'%s.url': this server lets requests declare no tool hosts (start it with --allow-tool-host "+
						"HOST[:PORT])", at)
			}
			t, err = httptool.New(spec, policy)
			if err != nil {
				return nil, openai.BadRequest(at+".url", "'%s.url': %v", at, err)
			}
		} else {
			t, _ = base.Get(spec.Name)
			if t == nil {
				return nil, openai.BadRequest(at,
					"'%s': tool %q has no url, and the server has no tool of that name (it has: %s)",
					at, spec.Name, s.operatorToolNames())
			}
		}
		if err := set.Add(t); err != nil {
			return nil, openai.BadRequest(at, "'%s': %v", at, err)
		}
	}
	return set, nil
}

// operatorTools is the set of the operator's tools, built (their schemas compiled) once.
func (s *Server) operatorTools() (*tools.Set, *openai.APIError) {
	s.opToolsOnce.Do(func() { s.opTools, s.opToolsErr = tools.NewSet(s.opt.Tree.Tools...) })
	if s.opToolsErr != nil {
		return nil, &openai.APIError{Status: http.StatusInternalServerError, Type: "server_error",
			Message: fmt.Sprintf("the server's tools are misconfigured: %v", s.opToolsErr)}
	}
	return s.opTools, nil
}

func (s *Server) operatorToolNames() string {
	var names []string
	for _, t := range s.opt.Tree.Tools {
		names = append(names, t.Name())
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// hook makes one choice's tree session: it follows the tokens, runs the tools, prunes.
func (ts *treeSetup) hook(st *modelState, m *metrics) *tree.Run {
	return tree.NewRun(tree.RunOptions{
		Buffer:     ts.buffer,
		TokenBytes: st.tok.TokenBytes,
		Encode:     st.tok.EncodeText, // tool results are data: special-token text in them is plain text
		Tools:      toolCaller{set: ts.set, m: m},
	})
}

// toolCaller runs a tree's tool calls through the request's tool set, counting them.
type toolCaller struct {
	set *tools.Set
	m   *metrics
}

func (c toolCaller) Call(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	res := c.set.Call(ctx, name, args)
	outcome := "ok"
	switch {
	case res.Err != nil:
		outcome = "error"
	case res.Cached:
		outcome = "cached"
	}
	c.m.toolCalls.WithLabelValues(outcome).Inc()
	c.m.toolSeconds.Observe(res.Duration.Seconds())
	return res.JSON, res.Err
}
