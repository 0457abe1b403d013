package tools

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type weatherArgs struct {
	City  string `json:"city" jsonschema:"description=City name"`
	Units string `json:"units,omitempty" jsonschema:"enum=metric,enum=imperial"`
	Days  int    `json:"days,omitempty" jsonschema:"minimum=1,maximum=7"`
}

type node struct {
	Children []node `json:"children"`
}

func TestFunc(t *testing.T) {
	tool, err := Func("weather", "Forecast.", func(_ context.Context, in weatherArgs) (map[string]any, error) {
		if in.City == "Atlantis" {
			return nil, errors.New("no forecast under water")
		}
		return map[string]any{"city": in.City, "units": in.Units, "days": in.Days}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"properties":{"city":{"type":"string","description":"City name"},"units":{"type":"string",` +
		`"enum":["metric","imperial"]},"days":{"type":"integer","maximum":7,"minimum":1}},` +
		`"additionalProperties":false,"type":"object","required":["city"]}`
	if got := string(tool.Parameters()); got != want {
		t.Errorf("schema\n got %s\nwant %s", got, want)
	}
	if k, ok := tool.(CacheKeyer); ok && k.CacheKey() != "" {
		t.Error("a Func tool must not be shared across Sets by name alone")
	}
	s := mustSet(t, tool)
	ctx := context.Background()
	for _, c := range []struct{ args, want string }{
		{`{"city":"Oslo","days":3}`, `{"city":"Oslo","days":3,"units":""}`},
		{`{"city":"Oslo","units":"kelvin"}`,
			`{"error":"tool \"weather\": invalid arguments: at /units: value must be one of 'metric', 'imperial'"}`},
		{`{"city":"Oslo","days":9}`,
			`{"error":"tool \"weather\": invalid arguments: at /days: maximum: got 9, want 7"}`},
		{`{"city":"Atlantis"}`, `{"error":"tool \"weather\": no forecast under water"}`},
	} {
		if res := s.Call(ctx, "weather", json.RawMessage(c.args)); string(res.JSON) != c.want {
			t.Errorf("%s: got %s, want %s", c.args, res.JSON, c.want)
		}
	}
	// Called directly, without a Set's validation, unknown fields are still refused.
	if _, err := tool.Call(ctx, json.RawMessage(`{"city":"Oslo","cty":"x"}`)); !errors.Is(err, ErrInvalidArguments) {
		t.Errorf("direct call with an unknown field: %v", err)
	}

	if _, err := Func("n", "", func(context.Context, int) (int, error) { return 0, nil }); err == nil ||
		!strings.Contains(err.Error(), "must be a struct") {
		t.Errorf("non-struct arguments: %v", err)
	}
	if _, err := Func("n", "", func(context.Context, node) (int, error) { return 0, nil }); err == nil ||
		!strings.Contains(err.Error(), "recursive type tools.node") {
		t.Errorf("recursive arguments: %v", err)
	}
	if _, err := Func[weatherArgs, int]("n", "", nil); err == nil {
		t.Error("nil function accepted")
	}
}
