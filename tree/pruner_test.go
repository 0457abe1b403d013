package tree

import (
	"reflect"
	"testing"

	"github.com/arborlabs/arbor/runtime/engine"
)

func TestPruner(t *testing.T) {
	type step struct {
		push engine.Span
		drop []engine.Span
	}
	// Lists as they close in a tree like
	//   T1: [A: [a1], B: [b1]]   T2: [C]   T3: [D]
	// a1=[10,20) inside A's list... parent lists contain their children's.
	a1, b1 := engine.Span{Begin: 10, End: 20}, engine.Span{Begin: 30, End: 40}
	l1 := engine.Span{Begin: 5, End: 50} // T1's list: contains a1 and b1
	l2, l3 := engine.Span{Begin: 60, End: 70}, engine.Span{Begin: 80, End: 90}
	cases := []struct {
		name   string
		buffer int
		steps  []step
		held   []engine.Span
	}{
		{"buffer 0 drops each list as it closes", 0, []step{
			{a1, []engine.Span{a1}}, {b1, []engine.Span{b1}}, {l1, []engine.Span{l1}}, {l2, []engine.Span{l2}},
		}, nil},
		{"buffer 1", 1, []step{
			{a1, nil}, {b1, []engine.Span{a1}}, {l1, []engine.Span{b1}}, {l2, []engine.Span{l1}}, {l3,
				[]engine.Span{l2}},
		}, []engine.Span{l3}},
		{"buffer 2: nested lists count on their own", 2, []step{
			{a1, nil}, {b1, nil}, {l1, []engine.Span{a1}}, {l2, []engine.Span{b1}}, {l3, []engine.Span{l1}},
		}, []engine.Span{l2, l3}},
		{"buffer 2: older lists go first", 2, []step{
			{engine.Span{Begin: 1, End: 2}, nil}, {engine.Span{Begin: 3, End: 4}, nil}, {a1,
				[]engine.Span{{Begin: 1, End: 2}}}, {b1, []engine.Span{{Begin: 3,
				End: 4}}}, {l1, []engine.Span{a1}}, {l2, []engine.Span{b1}},
		}, []engine.Span{l1, l2}},
		{"buffer 3 keeps all", 3, []step{
			{a1, nil}, {b1, nil}, {l2, nil},
		}, []engine.Span{a1, b1, l2}},
		{"empty spans are not pushed", 1, []step{
			{a1, nil}, {engine.Span{Begin: 25, End: 25}, nil}, {engine.Span{Begin: 26, End: 24}, nil}, {b1,
				[]engine.Span{a1}},
		}, []engine.Span{b1}},
		{"negative buffer is 0", -1, []step{{a1, []engine.Span{a1}}}, nil},
		{"several evicted at once", 1, []step{
			{engine.Span{Begin: 100, End: 110}, nil}, {engine.Span{Begin: 0, End: 5},
				[]engine.Span{{Begin: 100, End: 110}}}, {engine.Span{Begin: 200,
				End: 300}, []engine.Span{{Begin: 0, End: 5}}},
		}, []engine.Span{{Begin: 200, End: 300}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewPruner(c.buffer)
			for i, s := range c.steps {
				if got := p.Push(s.push); !reflect.DeepEqual(got, s.drop) {
					t.Fatalf("step %d: Push(%v) = %v, want %v", i, s.push, got, s.drop)
				}
			}
			if got := p.Held(); !reflect.DeepEqual(got, c.held) && !(len(got) == 0 && len(c.held) == 0) {
				t.Errorf("held %v, want %v", got, c.held)
			}
		})
	}
}
