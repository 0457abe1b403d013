package tokenizer

import (
	"strings"
	"testing"
)

// benchText is ~100 KB of mixed text built from the reference corpus (prose, code, many
// scripts, emoji, numbers, whitespace), so that the benchmark sees realistic piece lengths.
func benchText(b *testing.B) string {
	corpus := loadCorpus(b)
	var sb strings.Builder
	for sb.Len() < 100_000 {
		for _, s := range corpus {
			sb.WriteString(s)
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

func BenchmarkEncode(b *testing.B) {
	text := benchText(b)
	for _, name := range []string{"qwen3", "llama3", "llama2"} {
		b.Run(name, func(b *testing.B) {
			tk := load(b, name)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				tk.Encode(text)
			}
		})
	}
}

// BenchmarkEncodeCold measures the uncached path: the cache is emptied before each encode.
func BenchmarkEncodeCold(b *testing.B) {
	text := benchText(b)
	tk := load(b, "qwen3")
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.model.mu.Lock()
		clear(tk.model.cache)
		tk.model.mu.Unlock()
		tk.Encode(text)
	}
}

func BenchmarkDecodeStream(b *testing.B) {
	text := benchText(b)
	tk := load(b, "qwen3")
	ids := tk.Encode(text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		d := tk.NewDecoder()
		for _, id := range ids {
			d.Next(id)
		}
		d.Flush()
	}
}

func BenchmarkLoad(b *testing.B) {
	path := tokenizerPath(b, "qwen3")
	for b.Loop() {
		if _, err := FromFile(path); err != nil {
			b.Fatal(err)
		}
	}
}
