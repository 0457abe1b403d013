package cpu

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/model"
)

// TestSetTunables: settings are checked whole before any is applied, the restore function
// puts back what was there, and TunablesChanged reports what differs from the defaults.
func TestSetTunables(t *testing.T) {
	if TunablesChanged() != "" {
		t.Skipf("ARBOR_TUNE is set (%s): the test wants the defaults", TunablesChanged())
	}
	for _, tu := range Tunables() {
		if tu.Value() != tu.Default || tu.Default < tu.Min || tu.Default > tu.Max || tu.Default%tu.Step != 0 {
			t.Fatalf("%s: value %d, default %d, range %d..%d step %d", tu.Name, tu.Value(), tu.Default, tu.Min,
				tu.Max, tu.Step)
		}
	}
	for _, c := range []struct{ spec, want string }{
		{"no-such=1", "unknown; the tunables are one-prefetch-wide, "},
		{"piece-rows", "want name=value"},
		{"piece-rows=abc", "not a whole number"},
		{"piece-rows=12", "not a multiple of 8"},
		{"pairs-scales=2", "outside 0..1"},
		{"decode-pieces=0", "outside 1..64"},
		{" , ", "none named"},
		{"decode-pieces=2,piece-rows=-8", "outside"}, // the valid first setting is not applied either
	} {
		if _, err := SetTunables(c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SetTunables(%q): err %v, want one containing %q", c.spec, err, c.want)
		}
		if got := TunablesChanged(); got != "" {
			t.Fatalf("SetTunables(%q) failed but changed %s", c.spec, got)
		}
	}
	restore, err := SetTunables("decode-pieces=2, piece-rows=64,pairs-scales=0")
	if err != nil {
		t.Fatal(err)
	}
	if tune.decodePieces != 2 || tune.pieceRows != 64 || tune.pairsScales != 0 {
		t.Fatalf("after SetTunables: decode-pieces %d, piece-rows %d, pairs-scales %d", tune.decodePieces,
			tune.pieceRows, tune.pairsScales)
	}
	if got, want := TunablesChanged(), "pairs-scales=0,decode-pieces=2,piece-rows=64"; got != want {
		t.Fatalf("TunablesChanged() = %q, want %q", got, want)
	}
	restore()
	if got := TunablesChanged(); got != "" {
		t.Fatalf("after restore, changed: %s", got)
	}
}

// TestTunablesKeepResults decodes one sequence and eight together (the one-token kernels and
// the eight-token pairs kernel) with the tunables at the ends of their ranges: the settings move
// prefetches and cut the work differently, and must not change what is computed.
func TestTunablesKeepResults(t *testing.T) {
	m := testModel(t, "tiny-qwen2", model.Q8_0)
	V := m.Config.VocabSize
	for _, spec := range []string{
		// Everything wide, no look-ahead, the smallest pieces and streams.
		"narrow-stride=0,one-prefetch-wide=0,one-prefetch-narrow=0,pairs-prefetch-groups=0,pairs-scales=0," +
			"stream-rows=8,decode-pieces=1,piece-rows=8,piece-work=4096",
		// Everything narrow, far look-ahead, many pieces.
		"narrow-stride=16777216,one-prefetch-narrow=1048576,pairs-prefetch-groups=16,pairs-scales=1," +
			"decode-pieces=64,piece-rows=4096,piece-work=1073741824,stream-rows=65536",
	} {
		t.Run(spec[:strings.IndexByte(spec, ',')], func(t *testing.T) {
			restore, err := SetTunables(spec)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			be := newTestBackend(t, m, Options{Threads: 2, NumPages: 64, PageSize: 4, KV: backend.KVF32})
			r := rand.New(rand.NewPCG(5, 6))
			const nseq, prompt, steps = 8, 5, 2
			tokens := make([][]int32, nseq)
			logits := make([][]float32, nseq)
			for i := range tokens {
				tokens[i] = randomTokens(r, prompt+steps, V)
				logits[i] = make([]float32, V)
			}
			pages := func(i int) []int32 { return []int32{int32(2 * i), int32(2*i + 1)} }
			// Each prompt alone (the first decoding one token: its last prompt token after the rest).
			for i := range tokens {
				in := backend.SeqInput{Tokens: tokens[i][:prompt-1], Positions: seqPositions(0, prompt-1),
					Pages: pages(i)}
				if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits[:1]); err != nil {
					t.Fatal(err)
				}
			}
			in := backend.SeqInput{Tokens: tokens[0][prompt-1 : prompt], Positions: seqPositions(prompt-1, 1),
				Start: prompt - 1, Pages: pages(0), Logits: true}
			if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits[:1]); err != nil {
				t.Fatal(err)
			}
			want := refForward(&m.Config, &m.Weights, tokens[0][:prompt], seqPositions(0, prompt))
			compareLogits(t, "one sequence", logits[0], want[prompt-1], tolerance(model.Q8_0))
			// Then all eight together, one token each: sequence 0 is a token ahead of the rest.
			for s := 0; s < steps; s++ {
				batch := &backend.Batch{}
				for i := range tokens {
					at := prompt - 1 + s
					if i == 0 {
						at++
					}
					batch.Seqs = append(batch.Seqs, backend.SeqInput{Tokens: tokens[i][at : at+1],
						Positions: seqPositions(at, 1), Start: at, Pages: pages(i), Logits: true})
				}
				if err := be.Forward(batch, logits); err != nil {
					t.Fatal(err)
				}
				for i := range tokens {
					n := batch.Seqs[i].Start + 1
					want := refForward(&m.Config, &m.Weights, tokens[i][:n], seqPositions(0, n))
					compareLogits(t, fmt.Sprintf("step %d, sequence %d", s, i), logits[i], want[n-1],
						tolerance(model.Q8_0))
				}
			}
		})
	}
}

// TestTuneEnvError: a bad ARBOR_TUNE (applied at start-up) makes New fail with it, rather than
// run with the defaults.
func TestTuneEnvError(t *testing.T) {
	saved := tuneEnvErr
	defer func() { tuneEnvErr = saved }()
	_, tuneEnvErr = SetTunables("decode-pieces=0")
	if tuneEnvErr == nil {
		t.Fatal("decode-pieces=0 accepted")
	}
	tuneEnvErr = fmt.Errorf("ARBOR_TUNE: %w", tuneEnvErr)
	if _, err := New(testModel(t, "tiny", model.F32), Options{Threads: 1, NumPages: 4, PageSize: 4}); err == nil ||
		!strings.Contains(err.Error(), "ARBOR_TUNE: tunable decode-pieces") {
		t.Fatalf("New with a bad ARBOR_TUNE: err %v", err)
	}
}
