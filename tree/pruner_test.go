package tree

import (
	"reflect"
	"testing"
)

func TestPruner(t *testing.T) {
	type step struct {
		push Span
		drop []Span
	}
	// Lists as they close in a tree like
	//   T1: [A: [a1], B: [b1]]   T2: [C]   T3: [D]
	// a1=[10,20) inside A's list... parent lists contain their children's.
	a1, b1 := Span{10, 20}, Span{30, 40}
	l1 := Span{5, 50} // T1's list: contains a1 and b1
	l2, l3 := Span{60, 70}, Span{80, 90}
	cases := []struct {
		name   string
		buffer int
		steps  []step
		held   []Span
	}{
		{"buffer 0 drops each list as it closes", 0, []step{
			{a1, []Span{a1}}, {b1, []Span{b1}}, {l1, []Span{l1}}, {l2, []Span{l2}},
		}, nil},
		{"buffer 1", 1, []step{
			{a1, nil}, {b1, []Span{a1}}, {l1, []Span{b1}}, {l2, []Span{l1}}, {l3, []Span{l2}},
		}, []Span{l3}},
		{"buffer 2: nested lists count on their own", 2, []step{
			{a1, nil}, {b1, nil}, {l1, []Span{a1}}, {l2, []Span{b1}}, {l3, []Span{l1}},
		}, []Span{l2, l3}},
		{"buffer 2: older lists go first", 2, []step{
			{Span{1, 2}, nil}, {Span{3, 4}, nil}, {a1, []Span{{1, 2}}}, {b1, []Span{{3, 4}}}, {l1, []Span{a1}}, {l2, []Span{b1}},
		}, []Span{l1, l2}},
		{"buffer 3 keeps all", 3, []step{
			{a1, nil}, {b1, nil}, {l2, nil},
		}, []Span{a1, b1, l2}},
		{"empty spans are not pushed", 1, []step{
			{a1, nil}, {Span{25, 25}, nil}, {Span{26, 24}, nil}, {b1, []Span{a1}},
		}, []Span{b1}},
		{"negative buffer is 0", -1, []step{{a1, []Span{a1}}}, nil},
		{"several evicted at once", 1, []step{
			{Span{100, 110}, nil}, {Span{0, 5}, []Span{{100, 110}}}, {Span{200, 300}, []Span{{0, 5}}},
		}, []Span{{200, 300}}},
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

func TestSpanLen(t *testing.T) {
	if (Span{3, 10}).Len() != 7 || (Span{4, 4}).Len() != 0 {
		t.Error("Span arithmetic")
	}
}
