package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/model/demo"
)

// arbor runs the command line in-process and returns stdout, stderr and the error.
func arbor(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// tinyModel writes the tiny shape's random f32 weights (seed 3) to a GGUF file in a temporary
// directory and returns its path.
func tinyModel(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if _, stderr, err := arbor(t, "", "model", "new", "--shape", "tiny", "--dtype", "f32", "--out", path,
		"--seed", "3"); err != nil {
		t.Fatalf("model new: %v\n%s", err, stderr)
	}
	return path
}

type genResult struct {
	IDs              []int32 `json:"ids"`
	Text             string  `json:"text"`
	PromptTokens     int     `json:"prompt_tokens"`
	PrefillTokensPS  float64 `json:"prefill_tokens_per_s"`
	DecodeTokensPS   float64 `json:"decode_tokens_per_s"`
	CompletionTokens int     `json:"completion_tokens"`
}

// TestModelNewThenGenerate writes the tiny shape as GGUF (two types) and as a Hugging Face
// directory, and checks that each loads and generates, greedily and reproducibly, and that the
// same weights give the same greedy ids whatever the file format.
func TestModelNewThenGenerate(t *testing.T) {
	dir := t.TempDir()
	var ref []int32
	for _, c := range []struct{ dtype, out string }{
		{"f32", "tiny.gguf"}, {"f32", "tiny-hf"}, {"q8_0", "tiny-q8.gguf"},
	} {
		path := filepath.Join(dir, c.out)
		if _, stderr, err := arbor(t, "", "model", "new", "--shape", "tiny", "--dtype", c.dtype, "--out",
			path, "--seed", "3"); err != nil {
			t.Fatalf("model new %s: %v\n%s", c.out, err, stderr)
		}
		stdout, stderr, err := arbor(t, "", "generate", "--model", path, "--prompt", "Hello there",
			"--temperature", "0", "--max-tokens", "6", "--json")
		if err != nil {
			t.Fatalf("generate %s: %v\n%s", c.out, err, stderr)
		}
		var res genResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("generate --json %s: %v in %q", c.out, err, stdout)
		}
		if len(res.IDs) != 6 || res.PromptTokens != 2 || res.PrefillTokensPS <= 0 || res.DecodeTokensPS <= 0 {
			t.Fatalf("%s: %+v", c.out, res)
		}
		switch {
		case ref == nil:
			ref = res.IDs
		case c.dtype == "f32" && !reflect.DeepEqual(ref, res.IDs):
			t.Fatalf("%s: greedy ids %v differ from the GGUF file's %v", c.out, res.IDs, ref)
		}
		// --prompt-ids of the same prompt give the same continuation.
		ids, _, err := arbor(t, "Hello there", "tokenize", "--model", path)
		if err != nil {
			t.Fatal(err)
		}
		stdout2, _, err := arbor(t, "", "generate", "--model", path, "--prompt-ids", strings.TrimSpace(ids),
			"--temperature", "0", "--max-tokens", "6", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var res2 genResult
		if err := json.Unmarshal([]byte(stdout2), &res2); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.IDs, res2.IDs) {
			t.Fatalf("%s: --prompt gives %v, --prompt-ids %s gives %v", c.out, res.IDs, ids, res2.IDs)
		}
		// And from a file (@FILE), as long prompts must be given.
		idsFile := filepath.Join(t.TempDir(), "ids.json")
		if err := os.WriteFile(idsFile, []byte(ids), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout3, _, err := arbor(t, "", "generate", "--model", path, "--prompt-ids", "@"+idsFile,
			"--temperature", "0", "--max-tokens", "6", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var res3 genResult
		if err := json.Unmarshal([]byte(stdout3), &res3); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.IDs, res3.IDs) {
			t.Fatalf("%s: --prompt gives %v, --prompt-ids @file gives %v", c.out, res.IDs, res3.IDs)
		}
	}
	if _, _, err := arbor(t, "", "generate", "--prompt-ids", "@/nonexistent/ids.json"); err == nil ||
		!strings.Contains(err.Error(), "--prompt-ids") {
		t.Fatalf("a missing ids file: %v, want an error naming --prompt-ids", err)
	}
}

func TestDemoModelSaysSo(t *testing.T) {
	stdout, stderr, err := arbor(t, "", "generate", "--prompt", "Hi", "--max-tokens", "3", "--seed", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "built-in demo model") {
		t.Fatalf("stderr does not say the demo model is used: %q", stderr)
	}
	if stdout == "" {
		t.Fatal("no text streamed")
	}
	// Seeded sampling is reproducible.
	again, _, err := arbor(t, "", "generate", "--prompt", "Hi", "--max-tokens", "3", "--seed", "1")
	if err != nil || again != stdout {
		t.Fatalf("seeded runs differ: %q vs %q (%v)", stdout, again, err)
	}
}

// TestBackendsAgree: the xla backend (gomlx graphs, here on gomlx's pure-Go engine) gives the
// cpu backend's greedy ids on the demo model (issue 7's first check).
func TestBackendsAgree(t *testing.T) {
	var ids [2][]int32
	for i, be := range []string{"cpu", "xla"} {
		stdout, _, err := arbor(t, "", "generate", "--backend", be, "--prompt", "Once upon a time",
			"--max-tokens", "16", "--temperature", "0", "--json")
		if err != nil {
			t.Fatalf("--backend %s: %v", be, err)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		var res struct {
			IDs []int32 `json:"ids"`
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || len(res.IDs) == 0 { // up to 16: the demo may end early
			t.Fatalf("--backend %s: %v: %q", be, err, stdout)
		}
		ids[i] = res.IDs
	}
	if !slices.Equal(ids[0], ids[1]) {
		t.Fatalf("greedy ids differ: cpu %v, xla %v", ids[0], ids[1])
	}
}

// TestXLAPluginMissing: naming a PJRT backend the binary cannot run fails with the settings
// to look at, without trying to download anything.
func TestXLAPluginMissing(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "xla:cuda")
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	_, _, err := arbor(t, "", "generate", "--backend", "xla", "--prompt", "Hi", "--max-tokens", "1")
	if err == nil {
		t.Fatal("generate --backend xla with GOMLX_BACKEND=xla:cuda and no plugin succeeded")
	}
	for _, want := range []string{"GOMLX_BACKEND=\"xla:cuda\"", "PJRT_PLUGIN_LIBRARY_PATH=", "never downloads"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}

func TestChatPrompt(t *testing.T) {
	stdout, stderr, err := arbor(t, "", "generate", "--chat", "--prompt", "Hi", "--temperature", "0",
		"--max-tokens", "2", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res genResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	// The demo's template: <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n.
	m, err := demo.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := m.Tokenizer.Encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
	if res.PromptTokens != len(want) || len(want) < 6 {
		t.Fatalf("chat prompt of %d tokens, want %d", res.PromptTokens, len(want))
	}
}

func TestTokenize(t *testing.T) {
	stdout, _, err := arbor(t, "Hello<|im_end|>", "tokenize")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int32
	if err := json.Unmarshal([]byte(stdout), &ids); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	// The demo's tokenizer: "Hello" in plain tokens, then <|im_end|> as its special token.
	m, err := demo.Load()
	if err != nil {
		t.Fatal(err)
	}
	end, ok := m.Tokenizer.ID("<|im_end|>")
	if n := len(ids); !ok || n < 2 || ids[n-1] != end || m.Tokenizer.Decode(ids[:n-1]) != "Hello" {
		t.Fatalf("ids %v", ids)
	}
}

func TestBadInvocations(t *testing.T) {
	cases := [][]string{
		{},
		{"frobnicate"},
		{"generate"},
		{"generate", "--prompt", "a", "--prompt-ids", "[1]"},
		{"generate", "--prompt-ids", "[1, -5]"},
		{"generate", "--prompt-ids", "not json"},
		{"generate", "--prompt", "a", "--temperature", "3"},
		{"generate", "--prompt", "a", "stray"},
		{"generate", "--model", "/nonexistent/model.gguf", "--prompt", "a"},
		{"model", "new", "--shape", "nope", "--out", "x.gguf"},
		{"model", "new", "--shape", "tiny", "--dtype", "q4", "--out", "x.gguf"},
		{"model", "new", "--shape", "tiny", "--dtype", "q8_0", "--out", "dir"},
		{"tokenize", "--model", "a", "--tokenizer", "b"},
		{"generate", "--prompt", "a", "--backend", "tpu"},
		{"serve", "--allow-tool-host", "127.1"},
		{"serve", "--allow-tool-host", "example.com:99999"},
		{"serve", "--cors-origin", "localhost:3000"},
		{"serve", "--cors-origin", "http://example.com/app"},
		{"generate", "--prompt", "a", "--kv-dtype", "f8"},
		{"serve", "--kv-dtype", "f8"},
		{"serve", "--sparse", "full"},
		{"serve", "--sparse-budget", "8"},
	}
	for _, args := range cases {
		if _, _, err := arbor(t, "", args...); err == nil {
			t.Errorf("arbor %v: no error", args)
		}
	}
}

// TestBenchContext: with --context, the cpu backend writes the context straight into its cache
// and the xla backend (which cannot) prefills it; neither times a prefill, both decode after it.
func TestBenchContext(t *testing.T) {
	path := tinyModel(t)
	for _, c := range []struct {
		backend string
		written bool
	}{{"cpu", true}, {"xla", false}} {
		stdout, stderr, err := arbor(t, "", "bench", "--model", path, "--backend", c.backend, "--context", "40",
			"--new-tokens", "2", "--bandwidth-mb", "0", "--threads", "2")
		if err != nil {
			t.Fatalf("bench --backend %s --context: %v\n%s", c.backend, err, stderr)
		}
		var res struct {
			Context int     `json:"context_tokens"`
			Written bool    `json:"context_written"`
			Prefill float64 `json:"prefill_tokens_per_s"`
			Decode  float64 `json:"decode_tokens_per_s"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("%v in %q", err, stdout)
		}
		if res.Context != 40 || res.Written != c.written || res.Prefill != 0 || res.Decode <= 0 {
			t.Fatalf("bench --backend %s --context 40: %+v\n%s", c.backend, res, stderr)
		}
	}
}

// TestBenchBandwidthSamples: bench measures the bandwidth before the decode, between its steps
// (here every step) and after it, reports their median as the bound's bandwidth, and leaves
// the probes out of the decode time. The measurements are stand-ins of known values, each
// taking 300 ms: three of them timed as decode would make it last at least 0.9 s, where the
// tiny model's three steps take milliseconds.
func TestBenchBandwidthSamples(t *testing.T) {
	path := tinyModel(t)
	savedEvery, savedMeasure := benchProbeEvery, benchMeasure
	defer func() { benchProbeEvery, benchMeasure = savedEvery, savedMeasure }()
	benchProbeEvery = 0
	values := []float64{10, 50, 20, 40, 30} // GB/s: median 30
	n := 0
	benchMeasure = func(*cpu.BandwidthProbe) float64 {
		time.Sleep(300 * time.Millisecond)
		v := values[n%len(values)]
		n++
		return v * 1e9
	}
	stdout, stderr, err := arbor(t, "", "bench", "--model", path, "--prompt-tokens", "4", "--new-tokens", "3",
		"--bandwidth-mb", "8", "--threads", "2")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	var res struct {
		Bandwidth float64   `json:"bandwidth_gb_per_s"`
		Samples   []float64 `json:"bandwidth_samples_gb_per_s"`
		Bytes     int64     `json:"weight_bytes_per_token"`
		Bound     float64   `json:"decode_bound_tokens_per_s"`
		Share     float64   `json:"decode_bandwidth_share"`
		Steps     float64   `json:"decode_steps_per_s"`
		DecodeS   float64   `json:"decode_s"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	if !slices.Equal(res.Samples, values) {
		t.Fatalf("bandwidth samples %v, want %v (before, one per step, after)", res.Samples, values)
	}
	if res.Bandwidth != 30 {
		t.Fatalf("bandwidth %v, want 30, the median of %v", res.Bandwidth, res.Samples)
	}
	if bound := 30e9 / float64(res.Bytes); math.Abs(res.Bound/bound-1) > 1e-9 {
		t.Fatalf("bound %v steps/s, want %v", res.Bound, bound)
	}
	if share := float64(res.Bytes) * res.Steps / 30e9; res.Share <= 0 || math.Abs(res.Share/share-1) > 1e-9 {
		t.Fatalf("share %v, want %v", res.Share, share)
	}
	if res.DecodeS >= 0.6 {
		t.Fatalf("decode took %.3fs: the 0.9 s of probes between its steps were timed as decode", res.DecodeS)
	}
}

// TestBenchBackends runs bench on the tiny shape with each backend: both give positive rates,
// and only the xla backend reports its graph compilations (warm-up (1,1,1), a 5-token prefill
// (8,1,1), then decodes over 5..7 context rows (1,8,1): 3 graphs).
func TestBenchBackends(t *testing.T) {
	path := tinyModel(t)
	for _, be := range []string{"cpu", "xla"} {
		stdout, stderr, err := arbor(t, "", "bench", "--model", path, "--backend", be, "--prompt-tokens", "5",
			"--new-tokens", "3", "--bandwidth-mb", "0", "--threads", "2")
		if err != nil {
			t.Fatalf("bench --backend %s: %v\n%s", be, err, stderr)
		}
		var res struct {
			Backend      string  `json:"backend"`
			Kernels      string  `json:"kernels"`
			Prefill      float64 `json:"prefill_tokens_per_s"`
			Decode       float64 `json:"decode_tokens_per_s"`
			Compilations *int    `json:"compilations"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("bench --backend %s: %v in %q", be, err, stdout)
		}
		if res.Backend != be || res.Prefill <= 0 || res.Decode <= 0 {
			t.Fatalf("bench --backend %s: %+v", be, res)
		}
		// The cpu backend names its kernel set, the one this process chose; xla names none.
		if want := map[string]string{"cpu": cpu.KernelSet(), "xla": ""}[be]; res.Kernels != want {
			t.Fatalf("bench --backend %s: kernels %q, want %q", be, res.Kernels, want)
		}
		switch {
		case be == "cpu" && res.Compilations != nil:
			t.Fatalf("bench --backend cpu reports %d compilations", *res.Compilations)
		case be == "xla" && (res.Compilations == nil || *res.Compilations != 3):
			t.Fatalf("bench --backend xla: compilations %v, want 3", res.Compilations)
		}
	}
}

// TestBenchPhases runs bench --phases on the tiny shape: every phase of the cpu backend is
// reported, the layer phases with some time, and together they fit in the decode step; without
// the flag there is no breakdown, and the xla backend, which does not time phases, refuses it.
func TestBenchPhases(t *testing.T) {
	path := tinyModel(t)
	args := []string{"bench", "--model", path, "--prompt-tokens", "5", "--new-tokens", "4", "--bandwidth-mb", "0",
		"--threads", "2", "--batch", "2"}
	stdout, stderr, err := arbor(t, "", append(args, "--phases")...)
	if err != nil {
		t.Fatalf("bench --phases: %v\n%s", err, stderr)
	}
	var res struct {
		DecodeS float64            `json:"decode_s"`
		Phases  map[string]float64 `json:"phase_ms_per_step"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	if len(res.Phases) != int(cpu.NumPhases) {
		t.Fatalf("phases %v, want all %d", res.Phases, cpu.NumPhases)
	}
	var sum float64
	for p := cpu.Phase(0); p < cpu.NumPhases; p++ {
		ms, ok := res.Phases[p.String()]
		if !ok || ms < 0 || (p < cpu.PhaseOther && ms == 0) {
			t.Fatalf("phase %s: %v (present %v)", p, ms, ok)
		}
		sum += ms
	}
	if step := res.DecodeS * 1e3 / 4; sum > step {
		t.Fatalf("phases sum to %.3f ms, more than the %.3f ms step", sum, step)
	}
	if !strings.Contains(stderr, "decode step by phase") {
		t.Fatalf("no phase line in:\n%s", stderr)
	}
	stdout, _, err = arbor(t, "", args...)
	if err != nil || strings.Contains(stdout, "phase_ms_per_step") {
		t.Fatalf("bench without --phases: %v, %q", err, stdout)
	}
	if _, _, err := arbor(t, "", append(args, "--phases", "--backend", "xla")...); err == nil ||
		!strings.Contains(err.Error(), "does not time phases") {
		t.Fatalf("bench --phases --backend xla: err %v", err)
	}
	// Two sequences on the xla backend, which takes exactly one logits row a sequence: the
	// warm-up and the prefills (one sequence each) once passed the whole batch's rows.
	if _, stderr, err := arbor(t, "", append(args, "--backend", "xla")...); err != nil {
		t.Fatalf("bench --backend xla --batch 2: %v\n%s", err, stderr)
	}
}

// TestBenchAlternate runs bench --alternate on the tiny shape: odd decode steps and the
// second sequence's prefill run the named kernel set (or the tunables' settings), even ones the
// process's own, each side's median is reported, and the process is back on its own afterwards.
// Unknown sets, bad settings, the set in use, other backends and --phases are refused.
func TestBenchAlternate(t *testing.T) {
	path := tinyModel(t)
	start := cpu.KernelSet()
	sets := cpu.KernelSets()
	other := sets[len(sets)-1] // "portable": every machine runs it
	args := []string{"bench", "--model", path, "--prompt-tokens", "5", "--new-tokens", "6", "--bandwidth-mb", "0",
		"--threads", "2", "--batch", "2"}
	if other != start {
		// A stand-in bandwidth of 30 GB/s, to check each set's share of the bound.
		savedMeasure := benchMeasure
		defer func() { benchMeasure = savedMeasure }()
		benchMeasure = func(*cpu.BandwidthProbe) float64 { return 30e9 }
		withBW := append(slices.Clone(args), "--bandwidth-mb", "8")
		stdout, stderr, err := arbor(t, "", append(withBW, "--alternate", other)...)
		if err != nil {
			t.Fatalf("bench --alternate %s: %v\n%s", other, err, stderr)
		}
		var res struct {
			Kernels   string `json:"kernels"`
			Bytes     int64  `json:"weight_bytes_per_token"`
			Alternate *struct {
				Kernels     string  `json:"kernels"`
				Steps       int     `json:"steps"`
				StepMS      float64 `json:"step_ms"`
				BaseStepMS  float64 `json:"base_step_ms"`
				StepRatio   float64 `json:"step_ratio"`
				Share       float64 `json:"decode_bandwidth_share"`
				BaseShare   float64 `json:"base_decode_bandwidth_share"`
				Prefill     float64 `json:"prefill_tokens_per_s"`
				BasePrefill float64 `json:"base_prefill_tokens_per_s"`
			} `json:"alternate"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("%v in %q", err, stdout)
		}
		a := res.Alternate
		if res.Kernels != start || a == nil || a.Kernels != other || a.Steps != 3 || a.StepMS <= 0 ||
			a.BaseStepMS <= 0 || math.Abs(a.StepRatio-a.StepMS/a.BaseStepMS) > 1e-9 || a.Prefill <= 0 ||
			a.BasePrefill <= 0 {
			t.Fatalf("bench --alternate %s: kernels %q, alternate %+v\n%s", other, res.Kernels, a, stderr)
		}
		for _, c := range []struct{ share, ms float64 }{{a.Share, a.StepMS}, {a.BaseShare, a.BaseStepMS}} {
			if want := float64(res.Bytes) / (c.ms / 1e3) / 30e9; c.share <= 0 || math.Abs(c.share/want-1) > 1e-9 {
				t.Fatalf("share %v for a %v ms step, want %v", c.share, c.ms, want)
			}
		}
		if !strings.Contains(stderr, "decode steps alternating") {
			t.Fatalf("no alternation line in:\n%s", stderr)
		}
		if got := cpu.KernelSet(); got != start {
			t.Fatalf("after bench --alternate the process runs %q, want %q", got, start)
		}
		stdout, _, err = arbor(t, "", args...)
		if err != nil || strings.Contains(stdout, `"alternate"`) {
			t.Fatalf("bench without --alternate: %v, %q", err, stdout)
		}
	}
	// Tunables' settings alternate the same way, against the run's own (here one set by hand,
	// as ARBOR_TUNE would, which the JSON reports).
	restore, err := cpu.SetTunables("piece-rows=64")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := arbor(t, "", append(args, "--alternate", "decode-pieces=2,stream-rows=16")...)
	restore()
	if err != nil {
		t.Fatalf("bench --alternate decode-pieces=2,stream-rows=16: %v\n%s", err, stderr)
	}
	var res struct {
		Tunables  string `json:"tunables"`
		Alternate *struct {
			Kernels  string `json:"kernels"`
			Settings string `json:"settings"`
			Steps    int    `json:"steps"`
		} `json:"alternate"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	if a := res.Alternate; res.Tunables != "piece-rows=64" || a == nil || a.Kernels != "" ||
		a.Settings != "decode-pieces=2,stream-rows=16" || a.Steps != 3 {
		t.Fatalf("bench --alternate decode-pieces=2,stream-rows=16: tunables %q, alternate %+v", res.Tunables, a)
	}
	if !strings.Contains(stderr, "with piece-rows=64 (3)") {
		t.Fatalf("the alternation line does not name the run's own settings:\n%s", stderr)
	}
	if got := cpu.TunablesChanged(); got != "" {
		t.Fatalf("after bench --alternate the tunables differ: %s", got)
	}
	for _, c := range []struct {
		extra []string
		want  string
	}{
		{[]string{"--alternate", "avx9000"}, strings.Join(sets, ", ")},
		{[]string{"--alternate", "piece-rows=12"}, "not a multiple of 8"},
		{[]string{"--alternate", start}, "uses already"},
		{[]string{"--alternate", other, "--backend", "xla"}, "cpu backend"},
		{[]string{"--alternate", other, "--phases"}, "--phases"},
	} {
		if _, _, err := arbor(t, "", append(args, c.extra...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("bench %v: err %v, want one mentioning %q", c.extra, err, c.want)
		}
	}
}
