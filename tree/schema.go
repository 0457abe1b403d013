package tree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// DefaultMaxDepth is the depth the task recursion is unrolled to when SchemaOptions.MaxDepth is
// 0 (TIM's default; its "flex" tasks use 5).
const DefaultMaxDepth = 3

// maxSchemaDepth bounds MaxDepth: each level is one more copy of Task in the schema, and a tree
// deeper than this is not a reasoning trace anyone asked for.
const maxSchemaDepth = 32

// SchemaOptions shape the TIM response schema.
type SchemaOptions struct {
	// MaxDepth is how many levels of tasks the schema allows (0: DefaultMaxDepth). Tasks of
	// depth MaxDepth have no "subtasks" field.
	MaxDepth int
	// Tools are the tools a task may call; with none, "tooluse" is always null.
	Tools []ToolSpec
	// MaxTextChars bounds each free-text field ("thought", "conclusion", "answer") to that many
	// characters (0: unbounded). The grammar closes a string that reaches it, so a model caught
	// repeating itself inside one still finishes a valid tree instead of running out of tokens.
	MaxTextChars int
}

// MaxTextChars bounds SchemaOptions.MaxTextChars: the grammar unrolls a bounded string one
// node per character, in every field of every level.
const MaxTextChars = 2048

// ToolSpec is a tool as the schema sees it: its name and the JSON Schema of its parameters
// (nil: any JSON object).
type ToolSpec struct {
	Name       string
	Parameters json.RawMessage
}

// Schema returns TIM's response schema, the recursion unrolled to opt.MaxDepth levels:
//
//	Response = {"reasoning": [Task1, ...] (one or more), "answer": string}
//	TaskD    = {"thought": string, "tooluse": ToolUse | null,
//	            "subtasks": [TaskD+1, ...] | null, "conclusion": string}  (D < MaxDepth)
//	TaskMax  = {"thought": string, "tooluse": ToolUse | null, "conclusion": string}
//	ToolUse  = anyOf, per tool: {"tool_name": const name, "parameters": <its schema>,
//	           "tool_result": any}
//
// Every field is required and no other is allowed, so the grammar writes them all, in this
// order. The levels and the tool union are $defs ("task_1" ... , "tooluse"), which the grammar
// compiles as shared rules instead of copies. The union is anyOf rather than oneOf: the
// branches are told apart by their tool_name const, but anyOf needs no disjointness proof from
// the compiler.
func Schema(opt SchemaOptions) ([]byte, error) {
	depth := opt.MaxDepth
	if depth == 0 {
		depth = DefaultMaxDepth
	}
	if depth < 0 || depth > maxSchemaDepth {
		return nil, fmt.Errorf("tree schema: max depth %d out of range 1..%d", opt.MaxDepth, maxSchemaDepth)
	}
	if opt.MaxTextChars < 0 || opt.MaxTextChars > MaxTextChars {
		return nil, fmt.Errorf("tree schema: max text chars %d out of range 0..%d", opt.MaxTextChars, MaxTextChars)
	}
	str := obj{{"type", "string"}}
	if opt.MaxTextChars > 0 {
		str = append(str, member{"maxLength", opt.MaxTextChars})
	}
	null := obj{{"type", "null"}}

	var defs obj
	toolUse := any(null)
	if len(opt.Tools) > 0 {
		seen := map[string]bool{}
		var alts []any
		for i, t := range opt.Tools {
			if t.Name == "" {
				return nil, fmt.Errorf("tree schema: tool %d has no name", i)
			}
			if seen[t.Name] {
				return nil, fmt.Errorf("tree schema: tool %q declared twice", t.Name)
			}
			seen[t.Name] = true
			params := json.RawMessage(`{"type":"object"}`)
			if len(bytes.TrimSpace(t.Parameters)) > 0 {
				if !json.Valid(t.Parameters) {
					return nil, fmt.Errorf("tree schema: tool %q: parameters schema is not valid JSON", t.Name)
				}
				// The tool's own local references ("#/$defs/x") must point into it where it
				// now sits, inside the response schema.
				base := fmt.Sprintf("#/$defs/tooluse/anyOf/%d/properties/parameters", i)
				p, err := rebaseRefs(t.Parameters, base)
				if err != nil {
					return nil, fmt.Errorf("tree schema: tool %q: parameters schema: %w", t.Name, err)
				}
				params = p
			}
			alts = append(alts, obj{
				{"type", "object"},
				{"properties", obj{
					{"tool_name", obj{{"type", "string"}, {"const", t.Name}}},
					{"parameters", params},
					{"tool_result", obj{}},
				}},
				{"required", []string{"tool_name", "parameters", "tool_result"}},
				{"additionalProperties", false},
			})
		}
		defs = append(defs, member{"tooluse", obj{{"anyOf", alts}}})
		toolUse = obj{{"anyOf", []any{obj{{"$ref", "#/$defs/tooluse"}}, null}}}
	}

	for d := 1; d <= depth; d++ {
		props := obj{{"thought", str}, {"tooluse", toolUse}}
		required := []string{"thought", "tooluse"}
		if d < depth {
			list := obj{{"type", "array"}, {"items", obj{{"$ref", taskRef(d + 1)}}}}
			props = append(props, member{"subtasks", obj{{"anyOf", []any{list, null}}}})
			required = append(required, "subtasks")
		}
		props = append(props, member{"conclusion", str})
		required = append(required, "conclusion")
		defs = append(defs, member{taskDef(d), obj{
			{"type", "object"},
			{"properties", props},
			{"required", required},
			{"additionalProperties", false},
		}})
	}

	root := obj{
		{"type", "object"},
		{"properties", obj{
			// At least one task: an empty reasoning list is a plain answer, which is not what
			// a request for a task tree asks for (and a weak model takes that exit at once).
			{"reasoning", obj{{"type", "array"}, {"minItems", 1}, {"items", obj{{"$ref", taskRef(1)}}}}},
			{"answer", str},
		}},
		{"required", []string{"reasoning", "answer"}},
		{"additionalProperties", false},
		{"$defs", defs},
	}
	out, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("tree schema: %w", err)
	}
	return out, nil
}

func taskDef(d int) string { return "task_" + strconv.Itoa(d) }
func taskRef(d int) string { return "#/$defs/" + taskDef(d) }

// member and obj build JSON objects whose members keep their order: the grammar writes object
// members in the order of "properties", so a map (sorted by encoding/json) will not do.
type member struct {
	k string
	v any
}

type obj []member

func (o obj) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(m.k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, fmt.Errorf("member %q: %w", m.k, err)
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// IsTIM reports whether a response_format JSON schema asks for a TIM response, so that the
// server runs the request in tree mode. The rule: the root schema (after following a local
// "$ref", as in {"$ref": "#/$defs/Response", "$defs": {...}}) is an object schema ("type" is
// "object" or absent) whose "properties" include both "reasoning" and "answer". Other
// properties are allowed (a user schema may add some); the tracker ignores what it does not
// know. The schema's own shape of tasks is the user's business: the grammar enforces it, and
// the tracker only needs the TIM field names and types. One thing a user schema must keep for
// tool calls to work: "tool_result" right after "parameters" in each ToolUse, since the
// runtime writes it (a schema without it makes the forced tokens fail the grammar).
func IsTIM(schema []byte) bool {
	var root any
	if err := json.Unmarshal(schema, &root); err != nil {
		return false
	}
	s, ok := root.(map[string]any)
	for hop := 0; ok && hop < 8; hop++ {
		ref, isRef := s["$ref"].(string)
		if !isRef {
			break
		}
		target, err := resolvePointer(root, ref)
		if err != nil {
			return false
		}
		s, ok = target.(map[string]any)
	}
	if !ok {
		return false
	}
	if t, has := s["type"]; has && t != "object" {
		return false
	}
	props, ok := s["properties"].(map[string]any)
	if !ok {
		return false
	}
	_, r := props["reasoning"]
	_, a := props["answer"]
	return r && a
}

// resolvePointer follows a local reference ("#/$defs/x") in a decoded document.
func resolvePointer(root any, ref string) (any, error) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("not a local reference: %q", ref)
	}
	frag, err := url.PathUnescape(frag)
	if err != nil {
		return nil, err
	}
	if frag == "" {
		return root, nil
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, errors.New("anchor references are not followed")
	}
	cur := root
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			if cur, ok = c[tok]; !ok {
				return nil, fmt.Errorf("no %q", tok)
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("bad index %q", tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("cannot descend into %T", cur)
		}
	}
	return cur, nil
}
