package xla

import (
	"container/list"
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// DefaultMaxGraphs is how many compiled graphs a Model keeps when Options.MaxGraphs is zero.
// Bucketing makes the forward pass's shapes powers of two in three dimensions (new tokens,
// context rows, logits rows); a server's traffic visits a few dozen of them, and the copy and
// shift graphs a few more. Sparse attention multiplies the forward graphs by its segments
// (four for DELTA's three select layers), hence room for about twice as many.
const DefaultMaxGraphs = 96

// graphCache holds compiled graphs by input-shape key, least recently used first out. gomlx's
// graph.Exec caches per shape too, but refuses a new shape once its cache is full instead of
// evicting one; here every key gets an Exec of its own (one compiled graph), and the least
// recently used Exec is finalized (its executable freed) when a new key would exceed max.
type graphCache struct {
	backend backends.Backend
	max     int
	order   *list.List // of *graphEntry, most recent at the front
	byKey   map[string]*list.Element
	// evictions counts the graphs dropped so far.
	evictions int
}

type graphEntry struct {
	key  string
	exec *graph.Exec
}

func newGraphCache(be backends.Backend, max int) *graphCache {
	if max <= 0 {
		max = DefaultMaxGraphs
	}
	return &graphCache{backend: be, max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// buildFunc builds a graph: its outputs from its input nodes.
type buildFunc func(inputs []*graph.Node) []*graph.Node

// exec runs the graph for key, building it with build (which must accept exactly the shapes
// that key stands for) on first use.
func (c *graphCache) exec(key, name string, build buildFunc, args ...any) ([]*tensors.Tensor, error) {
	el, ok := c.byKey[key]
	if ok {
		c.order.MoveToFront(el)
	} else {
		e, err := graph.NewExecAny(c.backend, build)
		if err != nil {
			return nil, fmt.Errorf("building the %s graph: %w", name, err)
		}
		e.SetMaxCache(1)
		e.WithName("arbor-" + name)
		el = c.order.PushFront(&graphEntry{key: key, exec: e})
		c.byKey[key] = el
		for c.order.Len() > c.max {
			old := c.order.Back()
			c.order.Remove(old)
			ent := old.Value.(*graphEntry)
			delete(c.byKey, ent.key)
			ent.exec.Finalize()
			c.evictions++
		}
	}
	return el.Value.(*graphEntry).exec.Exec(args...)
}

// len is the number of graphs held now.
func (c *graphCache) len() int { return c.order.Len() }

func (c *graphCache) close() {
	for el := c.order.Front(); el != nil; el = el.Next() {
		el.Value.(*graphEntry).exec.Finalize()
	}
	c.order.Init()
	clear(c.byKey)
}
