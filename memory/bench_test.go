package memory

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkChunksScan measures Chunks over one session of 50k chunks with 384-dimension int8
// vectors: the cost of reading a session's vector memory from Badger (before any scoring).
func BenchmarkChunksScan(b *testing.B) {
	ctx := context.Background()
	s, err := OpenBadger(b.TempDir(), Options{Logger: quiet(), GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.CreateOrGetSession(ctx, alice, "big"); err != nil {
		b.Fatal(err)
	}
	const turns, perTurn, dim = 50, 1000, 384
	x := make([]float32, dim)
	for t := range turns {
		chunks := make([]Chunk, perTurn)
		for i := range chunks {
			for j := range x {
				x[j] = float32((t*perTurn+i+j)%17) - 8
			}
			chunks[i] = Chunk{Role: RoleUser, Text: fmt.Sprintf("chunk %d of turn %d, some words to make it a sentence", i, t), Vector: Quantize(x)}
		}
		if _, err := s.AppendTurn(ctx, alice, "big", Turn{User: "u"}, chunks); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := s.Chunks(ctx, alice, "big", func(Chunk) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != turns*perTurn {
			b.Fatalf("%d chunks", n)
		}
	}
}
