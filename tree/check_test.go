package tree

import (
	"strings"
	"testing"
)

func TestCheckResponse(t *testing.T) {
	step := `{"thought":"Compute 3*4.","tooluse":{"tool_name":"calculator","parameters":{"expression":"3*4"},` +
		`"tool_result":{"result":"12"}},"subtasks":null,"conclusion":"12 pens."}`
	nested := `{"thought":"Split it.","tooluse":null,"subtasks":[` + step + `],"conclusion":"Done."}`
	for _, ok := range []string{
		`{"reasoning":[` + step + `],"answer":"12"}`,
		`{"reasoning":[` + nested + `,` + step + `],"answer":"12"}`,
		` {"answer":"x","reasoning":[{"thought":"","tooluse":null,"subtasks":[],"conclusion":""}]} `,
	} {
		if err := CheckResponse([]byte(ok), 3); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		`{"reasoning":[],"answer":"1"}`:                                               "one or more",
		`{"reasoning":[` + step + `]}`:                                                `no "answer"`,
		`{"reasoning":[` + step + `],"answer":12}`:                                    "not a string",
		`{"reasoning":[` + step + `],"answer":"1","x":1}`:                             `member "x"`,
		`{"reasoning":[` + step + `],"answer":"1"} {}`:                                "text after",
		`{"reasoning":[` + step + `],"answer":"1`:                                     "not JSON",
		`{"reasoning":[{"thought":"a","tooluse":null,"subtasks":null}],"answer":"1"}`: `no "conclusion"`,
		`{"reasoning":[{"thought":"a","tooluse":{"tool_name":"c","parameters":[],"tool_result":1},"subtasks":null,"conclusion":""}],"answer":"1"}`: "parameters is not an object",
		`{"reasoning":[{"thought":"a","tooluse":null,"subtasks":{},"conclusion":""}],"answer":"1"}`:                                                "neither null nor a list",
	} {
		if err := CheckResponse([]byte(bad), 3); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", bad, err, want)
		}
	}
	// Depth: the deepest tasks have no "subtasks".
	if err := CheckResponse([]byte(`{"reasoning":[`+nested+`],"answer":"1"}`), 1); err == nil {
		t.Error("subtasks below the deepest level accepted")
	}
}
