package retrieve

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchCorpus builds n chunks of dim 512: random unit-ish vectors and short texts drawn
// from a 5,000-word vocabulary with a Zipf-like skew, so that common words have long
// postings as in real chat.
func benchCorpus(n int) (*Retriever, []string, [][]float32) {
	const dim = 512
	r := rand.New(rand.NewPCG(uint64(n), 7))
	vocab := make([]string, 5000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%d", i)
	}
	zipf := rand.NewZipf(r, 1.1, 2, uint64(len(vocab)-1))
	text := func(words int) string {
		var b strings.Builder
		for j := range words {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(vocab[zipf.Uint64()])
		}
		return b.String()
	}
	ret := NewRetriever(dim)
	for i := range n {
		if err := ret.Add(fmt.Sprintf("s1:c%07d", i), text(8+r.IntN(25)), randVec(r, dim)); err != nil {
			panic(err)
		}
	}
	queries := make([]string, 64)
	qvecs := make([][]float32, 64)
	for i := range queries {
		queries[i] = text(12)
		qvecs[i] = randVec(r, dim)
	}
	return ret, queries, qvecs
}

// reportPercentiles adds p50 and p99 of the per-search times to the benchmark's output,
// the figures the memory issue's latency goal is stated in.
func reportPercentiles(b *testing.B, times []time.Duration) {
	slices.Sort(times)
	if len(times) == 0 {
		return
	}
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
}

var benchSizes = []int{10_000, 50_000, 200_000}

// BenchmarkSearch is the whole hybrid search: cosine top-50, BM25 top-50, fusion, top-5.
func BenchmarkSearch(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("chunks=%d", n), func(b *testing.B) {
			ret, queries, qvecs := benchCorpus(n)
			ctx := context.Background()
			var times []time.Duration
			i := 0
			for b.Loop() {
				t0 := time.Now()
				if _, err := ret.Search(ctx, queries[i%64], qvecs[i%64], 5); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t0))
				i++
			}
			reportPercentiles(b, times)
		})
	}
}

// BenchmarkVectorSearch and BenchmarkBM25Search split the hybrid search into its halves.
func BenchmarkVectorSearch(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("chunks=%d", n), func(b *testing.B) {
			ret, _, qvecs := benchCorpus(n)
			i := 0
			for b.Loop() {
				if _, err := ret.vectors.Search(qvecs[i%64], 50); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkBM25Search(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("chunks=%d", n), func(b *testing.B) {
			ret, queries, _ := benchCorpus(n)
			i := 0
			for b.Loop() {
				ret.words.Search(queries[i%64], 50)
				i++
			}
		})
	}
}

func BenchmarkDotInt8(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := make([]int8, 512), make([]int8, 512)
	for i := range x {
		x[i], y[i] = int8(r.IntN(255)-127), int8(r.IntN(255)-127)
	}
	var s int32
	for b.Loop() {
		s += DotInt8(x, y)
	}
	_ = s
}
