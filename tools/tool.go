package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	invopop "github.com/invopop/jsonschema"
)

// Tool is one callable tool.
type Tool interface {
	Name() string
	Description() string
	Parameters() json.RawMessage                                             // JSON Schema of the arguments object
	Call(ctx context.Context, args json.RawMessage) (json.RawMessage, error) // result must be valid JSON
}

// CacheKeyer is implemented by tools whose results may be shared between Sets through a Cache.
//
// The key must identify what the tool does, not only its name: two requests can each declare a
// tool called "search" that points at different servers, and a shared cache keyed by name would
// hand one request's results to the other. Tools without a CacheKey (or with an empty one) are
// cached only within their own Set.
type CacheKeyer interface {
	CacheKey() string
}

// Func returns a Tool written in Go with typed arguments. The parameters schema is reflected from
// In (see SchemaFor), so it cannot drift from the struct the arguments are decoded into; fn's Out is
// marshalled as the result. In must be a struct (the arguments of a tool are always an object).
//
// Tools made by Func have no CacheKey: their results are cached within a Set only, unless
// WithCacheKey gives them one.
func Func[In, Out any](name, description string, fn func(ctx context.Context, in In) (Out, error)) (Tool, error) {
	if name == "" {
		return nil, errors.New("tools: Func: empty name")
	}
	if fn == nil {
		return nil, fmt.Errorf("tools: Func %q: nil function", name)
	}
	schema, err := SchemaFor[In]()
	if err != nil {
		return nil, fmt.Errorf("tools: Func %q: %w", name, err)
	}
	return &funcTool[In, Out]{name: name, desc: description, schema: schema, fn: fn}, nil
}

// WithCacheKey returns t with key as its CacheKey, for a tool whose behaviour key fully
// identifies (a built-in such as the calculator), so that its results are shared through a Cache.
func WithCacheKey(t Tool, key string) Tool { return cacheKeyed{t, key} }

type cacheKeyed struct {
	Tool
	key string
}

func (k cacheKeyed) CacheKey() string { return k.key }

type funcTool[In, Out any] struct {
	name, desc string
	schema     json.RawMessage
	fn         func(context.Context, In) (Out, error)
}

func (t *funcTool[In, Out]) Name() string                { return t.name }
func (t *funcTool[In, Out]) Description() string         { return t.desc }
func (t *funcTool[In, Out]) Parameters() json.RawMessage { return bytes.Clone(t.schema) }

func (t *funcTool[In, Out]) Call(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
	var in In
	dec := json.NewDecoder(bytes.NewReader(args))
	// The reflected schema says additionalProperties false; decoding the same way keeps a direct
	// call (not through a Set, so not validated) from silently dropping a misspelt argument.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArguments, err)
	}
	out, err := t.fn(ctx, in)
	if err != nil {
		return nil, err
	}
	res, err := Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return res, nil
}

// SchemaFor reflects T's JSON Schema with github.com/invopop/jsonschema, in the form a
// JSON-Schema-to-grammar compiler takes best: inline (no $ref or $defs), no $schema or $id, and
// additionalProperties false. Fields are required unless tagged omitempty/omitzero; descriptions
// come from `jsonschema:"description=..."` or `jsonschema_description:"..."` tags.
// T must be a struct (or a pointer to one), since tool arguments are an object, and must not
// contain itself, since an inline schema cannot.
func SchemaFor[T any]() (json.RawMessage, error) {
	typ := reflect.TypeFor[T]()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return nil, fmt.Errorf("schema of %s: arguments must be a struct, not %s", typ, typ.Kind())
	}
	// Inline schemas cannot describe a recursive type, and invopop, told not to use references,
	// recurses without end on one (a fatal stack overflow, not a recoverable panic): refuse first.
	if err := checkAcyclic(typ, map[reflect.Type]bool{}); err != nil {
		return nil, fmt.Errorf("schema of %s: %w; tools take inline schemas only", typ, err)
	}
	r := invopop.Reflector{Anonymous: true, DoNotReference: true, ExpandedStruct: true}
	s := r.ReflectFromType(typ)
	s.Version = "" // "$schema": noise to a grammar compiler, and the validator defaults to 2020-12 anyway
	s.ID = ""
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", typ, err)
	}
	// A type with its own JSONSchema method may still bring references; the grammar side does not
	// take them.
	if bytes.Contains(raw, []byte(`"$ref"`)) || bytes.Contains(raw, []byte(`"$defs"`)) {
		return nil, fmt.Errorf("schema of %s: needs $ref; tools take inline schemas only", typ)
	}
	return raw, nil
}

// checkAcyclic reports a struct type that contains itself through the fields JSON encodes.
func checkAcyclic(t reflect.Type, path map[reflect.Type]bool) error {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
			continue
		}
		break
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	if path[t] {
		return fmt.Errorf("recursive type %s", t)
	}
	path[t] = true
	defer delete(path, t)
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous || f.Tag.Get("json") == "-" {
			continue
		}
		if err := checkAcyclic(f.Type, path); err != nil {
			return err
		}
	}
	return nil
}

// Marshal is json.Marshal without HTML escaping, the form of tool results: they are read by a
// model, to which "\u003c" is noise where "<" is text, and both are equally valid JSON.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
