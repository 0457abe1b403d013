package tree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// CheckResponse reports whether b is one whole TIM response in the shape Schema gives (over
// any tools, at most maxDepth task levels; 0: DefaultMaxDepth), checked from the bytes alone:
// exactly the members the shape names, of the right kinds, "reasoning" not empty. The eval
// harness counts valid trees with it: a server's grammar should make every tree valid, and
// this is the check that does not trust it.
func CheckResponse(b []byte, maxDepth int) error {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if _, err := d.Token(); err == nil {
		return errors.New("text after the response")
	}
	obj, err := members(v, "response", "reasoning", "answer")
	if err != nil {
		return err
	}
	if _, ok := obj["answer"].(string); !ok {
		return errors.New(`"answer" is not a string`)
	}
	tasks, ok := obj["reasoning"].([]any)
	if !ok || len(tasks) == 0 {
		return errors.New(`"reasoning" is not a list of one or more tasks`)
	}
	return checkTasks(tasks, 1, maxDepth, "reasoning")
}

func checkTasks(tasks []any, depth, maxDepth int, at string) error {
	for i, t := range tasks {
		where := fmt.Sprintf("%s[%d]", at, i)
		want := []string{"thought", "tooluse", "subtasks", "conclusion"}
		if depth == maxDepth {
			want = []string{"thought", "tooluse", "conclusion"}
		}
		task, err := members(t, where, want...)
		if err != nil {
			return err
		}
		for _, k := range []string{"thought", "conclusion"} {
			if _, ok := task[k].(string); !ok {
				return fmt.Errorf("%s.%s is not a string", where, k)
			}
		}
		if tu := task["tooluse"]; tu != nil {
			use, err := members(tu, where+".tooluse", "tool_name", "parameters", "tool_result")
			if err != nil {
				return err
			}
			if _, ok := use["tool_name"].(string); !ok {
				return fmt.Errorf("%s.tooluse.tool_name is not a string", where)
			}
			if _, ok := use["parameters"].(map[string]any); !ok {
				return fmt.Errorf("%s.tooluse.parameters is not an object", where)
			}
		}
		if st, ok := task["subtasks"]; ok && st != nil {
			list, ok := st.([]any)
			if !ok {
				return fmt.Errorf("%s.subtasks is neither null nor a list", where)
			}
			if err := checkTasks(list, depth+1, maxDepth, where+".subtasks"); err != nil {
				return err
			}
		}
	}
	return nil
}

// members returns v as an object holding exactly the keys want.
func members(v any, where string, want ...string) (map[string]any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is not an object", where)
	}
	for _, k := range want {
		if _, ok := obj[k]; !ok {
			return nil, fmt.Errorf("%s has no %q", where, k)
		}
	}
	for k := range obj {
		if !slices.Contains(want, k) {
			return nil, fmt.Errorf("%s has a member %q the shape does not name", where, k)
		}
	}
	return obj, nil
}
