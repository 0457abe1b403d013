package openai

import (
	"fmt"
	"strings"
	"testing"
)

// TestParseSparseAttention: sparse_attention's three forms parse in chat and completions
// bodies; every other value is a 400 whose param names the field (or its member).
func TestParseSparseAttention(t *testing.T) {
	parsers := map[string]func(string) (*Common, *APIError){
		"chat": func(field string) (*Common, *APIError) {
			r, ae := ParseChat([]byte(`{"messages": [{"role": "user", "content": "hi"}]` + field + `}`))
			if ae != nil {
				return nil, ae
			}
			return &r.Common, nil
		},
		"completions": func(field string) (*Common, *APIError) {
			r, ae := ParseCompletion([]byte(`{"prompt": "hi"` + field + `}`))
			if ae != nil {
				return nil, ae
			}
			return &r.Common, nil
		},
	}
	good := []struct {
		value string
		want  *SparseAttention
	}{
		{"", nil},
		{`null`, nil},
		{`"none"`, &SparseAttention{}},
		{`"delta"`, &SparseAttention{Delta: true}},
		{`{"type": "delta"}`, &SparseAttention{Delta: true}},
		{`{"type": "delta", "budget": 64}`, &SparseAttention{Delta: true, Budget: 64}},
		{`{"type": "delta", "recent": 8}`, &SparseAttention{Delta: true, Recent: 8}},
		{`{"type": "delta", "budget": 1, "recent": 65536}`, &SparseAttention{Delta: true, Budget: 1, Recent: 65536}},
		{`{"type": "delta", "budget": 65536, "recent": null}`, &SparseAttention{Delta: true, Budget: 65536}},
		{`{"type": "none"}`, &SparseAttention{}},
	}
	bad := []struct{ value, param string }{
		{`"full"`, "sparse_attention"},
		{`"DELTA"`, "sparse_attention"},
		{`""`, "sparse_attention"},
		{`true`, "sparse_attention"},
		{`64`, "sparse_attention"},
		{`["delta"]`, "sparse_attention"},
		{`{}`, "sparse_attention.type"},
		{`{"budget": 64}`, "sparse_attention.type"},
		{`{"type": "sparse"}`, "sparse_attention.type"},
		{`{"type": 1}`, "sparse_attention.type"},
		{`{"type": "delta", "budget": 0}`, "sparse_attention.budget"},
		{`{"type": "delta", "budget": -3}`, "sparse_attention.budget"},
		{`{"type": "delta", "budget": 65537}`, "sparse_attention.budget"},
		{`{"type": "delta", "budget": 1.5}`, "sparse_attention.budget"},
		{`{"type": "delta", "budget": "64"}`, "sparse_attention.budget"},
		{`{"type": "delta", "budget": 1e30}`, "sparse_attention.budget"},
		{`{"type": "delta", "recent": 0}`, "sparse_attention.recent"},
		{`{"type": "delta", "recent": 100000}`, "sparse_attention.recent"},
		{`{"type": "delta", "budjet": 64}`, "sparse_attention.budjet"},
		{`{"type": "none", "budget": 64}`, "sparse_attention"},
	}
	for name, parse := range parsers {
		for _, c := range good {
			field := ""
			if c.value != "" {
				field = `, "sparse_attention": ` + c.value
			}
			cm, ae := parse(field)
			if ae != nil {
				t.Errorf("%s %s: %v", name, c.value, ae.Message)
				continue
			}
			if fmt.Sprint(cm.SparseAttention) != fmt.Sprint(c.want) {
				t.Errorf("%s %s: got %+v, want %+v", name, c.value, cm.SparseAttention, c.want)
			}
		}
		for _, c := range bad {
			_, ae := parse(`, "sparse_attention": ` + c.value)
			if ae == nil {
				t.Errorf("%s %s: accepted", name, c.value)
				continue
			}
			if ae.Status != 400 || ae.Type != TypeInvalidRequest || ae.Param == nil || *ae.Param != c.param ||
				!strings.Contains(ae.Message, "sparse_attention") {
				t.Errorf("%s %s: %d %s param %v %q; want 400 naming %s", name, c.value, ae.Status, ae.Type,
					ae.Param, ae.Message, c.param)
			}
		}
	}
}
