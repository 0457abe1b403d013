package openai

import (
	"errors"
	"fmt"
	"testing"

	"github.com/arborlabs/arbor/runtime/grammar"
)

// Grammars and refusals are compiled once per key, and the cache stays within its bounds.
func TestGrammarCache(t *testing.T) {
	compiles := 0
	refuse := errors.New("refused")
	bad := func() (*grammar.Grammar, error) { compiles++; return nil, refuse }
	for range 3 {
		if _, err := CompileCached("test-refused", bad); err != refuse {
			t.Fatalf("got %v", err)
		}
	}
	if compiles != 1 {
		t.Fatalf("a refused schema compiled %d times", compiles)
	}
	good := func() (*grammar.Grammar, error) {
		compiles++
		return grammar.CompileSchema([]byte(`{"type":"integer"}`))
	}
	g1, err1 := CompileCached("test-good", good)
	g2, err2 := CompileCached("test-good", good)
	if err1 != nil || err2 != nil || g1 != g2 || compiles != 2 {
		t.Fatalf("%v %v, same grammar %v, %d compiles", err1, err2, g1 == g2, compiles)
	}
	for i := range 3 * grammarCacheSize {
		key := fmt.Sprintf("test-%d", i)
		if i%2 == 0 {
			_, _ = CompileCached(key, bad)
		} else {
			_, _ = CompileCached(key, good)
		}
		grammars.mu.Lock()
		n, r, nodes := len(grammars.ok), len(grammars.refused), grammars.nodes
		grammars.mu.Unlock()
		if n > grammarCacheSize || r > grammarCacheSize || nodes > grammarCacheNodes {
			t.Fatalf("cache at %d grammars (%d nodes) and %d refusals", n, nodes, r)
		}
	}
}
