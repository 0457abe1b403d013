package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// printer renders validation messages, as jsonschema's own Error does.
var printer = message.NewPrinter(language.English)

// EmptyObjectSchema stands in for a tool that declares no parameters: any arguments object.
const EmptyObjectSchema = `{"type":"object"}`

// noLoader refuses every external reference. jsonschema's default loader reads file:// URLs, and
// schemas here come from chat requests: a "$ref":"file:///etc/passwd" must not read the server's
// disk. Meta-schemas are built into the library and still resolve.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema references are not loaded (%s)", url)
}

// CompileSchema checks that raw is a JSON Schema that can validate tool arguments, and compiles
// it. Empty or null means "any object". The server can use it to answer 400 for a request-declared
// tool before anything runs; Set.Add calls it for every tool.
func CompileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage(EmptyObjectSchema)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema is not valid JSON: %w", err)
	}
	switch doc.(type) {
	case map[string]any, bool:
	default:
		return nil, errors.New("schema must be a JSON object")
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	const loc = "mem:///parameters.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return s, nil
}

// args is one call's arguments, parsed once for validation, for the tool and for the cache key.
type args struct {
	value   any    // as jsonschema validates it (numbers as json.Number, exact)
	compact []byte // what the tool receives
	canon   string // keys sorted, compact: the cache key, equal for equal arguments
}

func parseArgs(raw json.RawMessage) (args, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		// The decode writes the parameters object, so empty means "no arguments" rather than a
		// truncated document.
		raw = json.RawMessage("{}")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return args{}, fmt.Errorf("not valid JSON: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return args{}, fmt.Errorf("not valid JSON: %v", err)
	}
	// Marshalling the generic value sorts object keys; json.Number keeps each number's text, so
	// 1 and 1.0 stay different keys (a miss, never a wrong hit).
	canon, err := Marshal(v)
	if err != nil {
		return args{}, fmt.Errorf("canonical form: %v", err)
	}
	return args{value: v, compact: buf.Bytes(), canon: string(canon)}, nil
}

// describeValidation turns jsonschema's multi-line report (which also names the mem:// schema URL)
// into one line a model can act on: where in the arguments, and what is wrong there.
func describeValidation(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var msgs []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			msg := e.ErrorKind.LocalizedString(printer)
			if len(e.InstanceLocation) > 0 {
				msg = "at /" + strings.Join(e.InstanceLocation, "/") + ": " + msg
			}
			msgs = append(msgs, msg)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	const maxMsgs = 4
	if len(msgs) > maxMsgs {
		msgs = append(msgs[:maxMsgs], fmt.Sprintf("and %d more", len(msgs)-maxMsgs))
	}
	return strings.Join(msgs, "; ")
}

// compactResult checks a tool's result and returns it as compact JSON, the only form the
// decode's grammar accepts verbatim.
func compactResult(res []byte) ([]byte, error) {
	if len(bytes.TrimSpace(res)) == 0 {
		return nil, fmt.Errorf("%w: empty result", ErrInvalidResult)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, res); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidResult, err)
	}
	out := buf.Bytes()
	if !utf8.Valid(out) {
		// encoding/json's scanner lets invalid UTF-8 through inside strings; the sequence the
		// result is written into is text. Re-encoding replaces each bad byte with U+FFFD (and
		// sorts object keys, a small price for a rare case).
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidResult, err)
		}
		if out, err = Marshal(v); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidResult, err)
		}
	}
	return out, nil
}

// errorJSON is the result the model reads when a call fails: {"error":"..."}.
func errorJSON(msg string) json.RawMessage {
	b, err := Marshal(map[string]string{"error": msg})
	if err != nil { // a string map always marshals; keep the promise of valid JSON regardless
		return json.RawMessage(`{"error":"tool call failed"}`)
	}
	return b
}
