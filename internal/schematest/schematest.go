// Package schematest is shared by the tests of the grammar and of the server: the suite of JSON
// Schemas that constrained decoding is checked against, and validation with an independent
// implementation (santhosh-tekuri/jsonschema), so that "it validates" never means "our own code
// agrees with itself".
package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/arborlabs/arbor/internal/testmodels"
)

// Suite reads runtime/grammar/testdata/schemas.json: the names in file order, and name -> schema.
func Suite(t testing.TB) ([]string, map[string]json.RawMessage) {
	t.Helper()
	root, err := testmodels.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "runtime", "grammar", "testdata", "schemas.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	// A map loses the file's order; read the keys again as tokens to keep it.
	dec := json.NewDecoder(bytes.NewReader(data))
	var names []string
	_, _ = dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		names = append(names, k.(string))
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	return names, m
}

// Validator compiles a schema, with formats asserted.
func Validator(t testing.TB, schema []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("mem://schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mem://schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Validate checks that out is one JSON document valid against s.
func Validate(s *jsonschema.Schema, out []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(inst)
}
