package openai

import (
	"crypto/sha256"
	"runtime"
	"sync"
	"time"

	"github.com/arborlabs/arbor/runtime/grammar"
)

// Compiled grammars are cached by a digest of their schema text: clients send the same schema
// over and over, and a grammar kept keeps its masks in the shared mask cache useful across
// requests. Refusals are cached too, so that a client retrying a schema too costly to compile
// is answered without compiling it again. Both caches are bounded: the grammars in entries and
// in automaton nodes (the memory a grammar holds), the refusals in entries; keys are digests,
// so a cached schema of megabytes costs 32 bytes of key.
type grammarCache struct {
	mu      sync.Mutex
	ok      map[[sha256.Size]byte]*grammar.Grammar
	nodes   int
	refused map[[sha256.Size]byte]error
}

const (
	grammarCacheSize  = 64
	grammarCacheNodes = grammar.MaxNodes
)

var grammars = &grammarCache{ok: map[[sha256.Size]byte]*grammar.Grammar{}, refused: map[[sha256.Size]byte]error{}}

// compileSlots bounds the compilations running at once: each may hold up to grammar.MaxNodes
// nodes while it builds (about 100 MB) and takes a core while it does, so a burst of large
// schemas waits here instead of multiplying the server's memory or starving the engine's
// forward steps of cores. One per four cores, at least one and at most two.
var compileSlots = make(chan struct{}, min(2, max(1, runtime.NumCPU()/4)))

// compileFreeTime is how long a compilation may run without pacing the next one; the schemas
// clients usually send compile in well under a millisecond.
const compileFreeTime = 20 * time.Millisecond

// GrammarCacheNodesInUse is the cache's size in automaton nodes, for metrics.
func GrammarCacheNodesInUse() int {
	grammars.mu.Lock()
	defer grammars.mu.Unlock()
	return grammars.nodes
}

// CompileSchema is the grammar of a JSON Schema, from the cache when it was compiled before.
func CompileSchema(schema []byte) (*grammar.Grammar, error) {
	return CompileCached("s\x00"+string(schema), func() (*grammar.Grammar, error) {
		return grammar.CompileSchema(schema)
	})
}

// CompileCached returns the grammar (or the refusal) for key, compiling it when the cache holds
// neither.
func CompileCached(key string, compile func() (*grammar.Grammar, error)) (*grammar.Grammar, error) {
	digest := sha256.Sum256([]byte(key))
	c := grammars
	c.mu.Lock()
	g, err := c.ok[digest], c.refused[digest]
	c.mu.Unlock()
	if g != nil || err != nil {
		return g, err
	}
	compileSlots <- struct{}{}
	start := time.Now()
	g, err = compile()
	if d := time.Since(start); d > compileFreeTime {
		// A large compilation keeps its slot for as long again after it ends (the request
		// itself does not wait): back-to-back large schemas get at most half of a core, and
		// the engine's forward steps keep the rest.
		go func() {
			time.Sleep(d)
			<-compileSlots
		}()
	} else {
		<-compileSlots
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if len(c.refused) >= grammarCacheSize {
			clear(c.refused)
		}
		c.refused[digest] = err
		return nil, err
	}
	// A grammar as large as the budget is kept too (it empties the cache): a client that sends
	// a huge schema over and over must not make the server compile it every time.
	if len(c.ok) >= grammarCacheSize || c.nodes+g.Nodes() > grammarCacheNodes {
		clear(c.ok)
		c.nodes = 0
	}
	if _, ok := c.ok[digest]; !ok {
		c.ok[digest] = g
		c.nodes += g.Nodes()
	}
	return g, nil
}
