package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/sample"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// benchResult is the JSON line arbor bench ends with.
type benchResult struct {
	Model   string `json:"model"`
	Backend string `json:"backend"`
	// Kernels is the cpu backend's kernel set (cpu.KernelSet: "avx512vnni+vbmi+avx2+fma+f16c",
	// "avx512vnni+avx2+fma+f16c", "avxvnni+avx2+fma+f16c", "avx2+fma+f16c", "neon+dotprod",
	// "neon" or "portable"); absent for other backends.
	Kernels      string `json:"kernels,omitempty"`
	Arch         string `json:"arch"`
	DType        string `json:"dtype"`
	Params       int64  `json:"params"`
	Layers       int    `json:"layers"`
	Hidden       int    `json:"hidden"`
	Threads      int    `json:"threads"`
	Batch        int    `json:"batch"`
	PromptTokens int    `json:"prompt_tokens"`
	// ContextTokens is the context each sequence decodes after (--context); ContextWritten
	// says it was written straight into the KV cache (random keys and values) rather than
	// prefilled.
	ContextTokens       int     `json:"context_tokens,omitempty"`
	ContextWritten      bool    `json:"context_written,omitempty"`
	NewTokens           int     `json:"new_tokens"`
	PrefillSeconds      float64 `json:"prefill_s"`
	DecodeSeconds       float64 `json:"decode_s"`
	PrefillTokensPerS   float64 `json:"prefill_tokens_per_s"`
	DecodeTokensPerS    float64 `json:"decode_tokens_per_s"`
	DecodeStepsPerS     float64 `json:"decode_steps_per_s"`
	WeightBytesPerToken int64   `json:"weight_bytes_per_token"`
	BandwidthGBPerS     float64 `json:"bandwidth_gb_per_s"`
	// BandwidthSamples is every bandwidth measurement of the run, in GB/s: one before the
	// decode, about one a second between its steps (not timed as decode), one after.
	// BandwidthGBPerS is their median: the machine's memory moves from minute to minute,
	// and the bound that the decode's share is taken against is the one it ran under.
	BandwidthSamples     []float64 `json:"bandwidth_samples_gb_per_s,omitempty"`
	DecodeBandwidthShare float64   `json:"decode_bandwidth_share"`
	DecodeBoundTokensPS  float64   `json:"decode_bound_tokens_per_s"`
	// Compilations is the number of graphs the backend compiled during the whole run
	// (warm-up included), for backends that compile (xla); absent otherwise.
	Compilations *int `json:"compilations,omitempty"`
	// KV is the KV cache's element type (--kv-dtype).
	KV string `json:"kv_dtype"`
	// Sparse is the decode steps' attention: "none" or "delta", with the selection's pages.
	// AttendedShare is the context slots the decode tokens attended to over the ones they
	// could have (averaged over layers, as the backend reports them); absent when the
	// backend reports none.
	Sparse        string   `json:"sparse"`
	SparseBudget  int      `json:"sparse_budget,omitempty"`
	SparseRecent  int      `json:"sparse_recent,omitempty"`
	AttendedShare *float64 `json:"attended_share,omitempty"`
	// AttentionUS is the decode steps' attention time per layer pass in microseconds, by the
	// layer's mode ("full", "select", "sparse"), and AttentionShare the share of the decode
	// time spent in attention, for backends that time it (cpu).
	AttentionUS    map[string]float64 `json:"attention_us_per_layer,omitempty"`
	AttentionShare *float64           `json:"attention_share,omitempty"`
	// PhaseMS is, with --phases, the decode steps' wall time by phase (cpu.Phase names), in
	// milliseconds a step, summed over layers.
	PhaseMS map[string]float64 `json:"phase_ms_per_step,omitempty"`
	// Tunables are the cpu backend's tunables that differ from their defaults (ARBOR_TUNE), as
	// "name=value,..."; absent when none do.
	Tunables string `json:"tunables,omitempty"`
	// Alternate is, with --alternate, the comparison of the kernel set or the tunables'
	// settings it names against the run's own; the run's other decode (and prefill) figures
	// then mix the two.
	Alternate *benchAlternate `json:"alternate,omitempty"`
}

// benchAlternate compares two kernel sets of the cpu backend, or two settings of its tunables,
// within one run: decode steps alternate between them (even steps the run's own, odd steps
// this one), and so do the sequences' prefills with --batch 2 or more, so that both meet the
// same moments of the machine's memory bandwidth, which on a shared machine moves by tens of
// percent from one minute to the next. Times are medians over each side's steps (or prefills).
type benchAlternate struct {
	Kernels  string `json:"kernels,omitempty"`  // the kernel set alternated with the run's
	Settings string `json:"settings,omitempty"` // or the tunables' settings

	Steps      int     `json:"steps"`        // decode steps this set ran (the base set ran the rest)
	StepMS     float64 `json:"step_ms"`      // median decode step, this set
	BaseStepMS float64 `json:"base_step_ms"` // median decode step, the run's kernels
	StepRatio  float64 `json:"step_ratio"`   // StepMS / BaseStepMS: above 1, this set is slower
	// Each set's median step against the run's bandwidth bound (as decode_bandwidth_share),
	// where bench measured the bandwidth.
	Share     float64 `json:"decode_bandwidth_share,omitempty"`
	BaseShare float64 `json:"base_decode_bandwidth_share,omitempty"`
	// The medians of the sequences' prefill rates, with --batch 2 or more (absent otherwise).
	PrefillTokensPerS     float64 `json:"prefill_tokens_per_s,omitempty"`
	BasePrefillTokensPerS float64 `json:"base_prefill_tokens_per_s,omitempty"`
}

// cmdBench times prefill and decode straight through the backend (no tokenizer, sampler or
// engine): a prompt of made-up ids per sequence, one Forward per sequence for prefill, then
// steps that decode every sequence together, each taking its greedy next token.
func cmdBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	modelPath := fs.String("model", "", "the model file (.gguf or a Hugging Face directory)")
	promptTokens := fs.Int("prompt-tokens", 128, "prompt length of each sequence")
	contextTokens := fs.Int("context", 0, "decode after this many tokens of context instead of a prompt: written "+
		"straight into the KV cache where the backend can (random keys and values: attention costs the same), "+
		"else prefilled in chunks; prefill is then not timed")
	newTokens := fs.Int("new-tokens", 128, "tokens to decode per sequence")
	batch := fs.Int("batch", 1, "sequences decoding together")
	threads := fs.Int("threads", 0, "worker threads (0: all cores)")
	backendKind := fs.String("backend", "cpu", backendHelp)
	bwMB := fs.Int("bandwidth-mb", 1024, "buffer size for the memory bandwidth measurement, MiB (0: skip)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of prefill and decode to this file")
	alternate := fs.String("alternate", "", "alternate the decode steps (and, with --batch 2 or more, the "+
		"sequences' prefills) between the cpu backend's kernel set and this one (e.g. avx2+fma+f16c; an "+
		"unknown name lists the sets this CPU runs), or between its tunables as they are and these settings "+
		"(name=value,...; see ARBOR_TUNE), and report the median step of each")
	phases := fs.Bool("phases", false, "time the decode steps by phase (norms, each product, attention, ...; cpu "+
		"backend) and report milliseconds a step")
	long := addLongContextFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := long.check(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *modelPath == "" {
		return errors.New("bench: --model is required")
	}
	if *promptTokens < 1 || *newTokens < 1 || *batch < 1 || *contextTokens < 0 {
		return errors.New("bench: --prompt-tokens, --new-tokens and --batch must be at least 1, --context not negative")
	}
	if *threads <= 0 {
		*threads = runtime.NumCPU()
	}
	var useAlt func() (restore func())          // switches the kernels to --alternate's set
	tuning := strings.Contains(*alternate, "=") // --alternate names tunables' settings, not a kernel set
	if *alternate != "" {
		if *backendKind != "cpu" && *backendKind != "" {
			return fmt.Errorf("bench: --alternate compares the cpu backend's kernel sets, not the %s backend's", *backendKind)
		}
		if *phases {
			return errors.New("bench: --alternate with --phases would add both sets' phases together; run them apart")
		}
		use := cpu.UseKernelSet
		if tuning {
			use = cpu.SetTunables
		} else if *alternate == cpu.KernelSet() {
			return fmt.Errorf("bench: --alternate %s is the kernel set this run uses already; this CPU runs %s",
				*alternate, strings.Join(cpu.KernelSets(), ", "))
		}
		restore, err := use(*alternate)
		if err != nil {
			return fmt.Errorf("bench: --alternate: %w", err)
		}
		restore()
		useAlt = func() func() {
			r, _ := use(*alternate) // checked above
			return r
		}
	}
	m, err := model.LoadWeights(*modelPath)
	if err != nil {
		return err
	}
	defer m.Close()
	cfg := m.Config
	sparseCfg, err := long.sparseConfig(cfg.NumLayers)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}

	const pageSize = 16
	if *contextTokens > 0 {
		*promptTokens = *contextTokens
	}
	perSeq := *promptTokens + *newTokens + 1
	pagesPerSeq := (perSeq + pageSize - 1) / pageSize
	numPages := pagesPerSeq**batch + pagesPerSeq
	be, err := newBackend(*backendKind, m, *threads, pageSize, numPages, long.kv)
	if err != nil {
		return err
	}
	defer be.Close()
	pool := kv.NewPool(numPages, pageSize)

	res := benchResult{
		Model: *modelPath, Backend: *backendKind, Arch: cfg.Arch, Params: int64(numParams(&m.Weights)),
		Layers: cfg.NumLayers, Hidden: cfg.HiddenSize, Threads: *threads, Batch: *batch,
		PromptTokens: *promptTokens, NewTokens: *newTokens, ContextTokens: *contextTokens,
		KV: long.kv.String(), Sparse: "none",
	}
	if sparseCfg != nil {
		res.Sparse, res.SparseBudget, res.SparseRecent = "delta", sparseCfg.Budget, sparseCfg.Recent
	}
	if res.Backend == "" {
		res.Backend = "cpu"
	}
	if res.Backend == "cpu" {
		res.Kernels = cpu.KernelSet()
		res.Tunables = cpu.TunablesChanged()
	}
	// The weight traffic (and so the bandwidth bound) is the cpu backend's figure; other
	// backends do not report it, and bench then skips the bandwidth measurement.
	if wb, ok := be.(interface{ WeightBytesPerToken() int64 }); ok {
		res.WeightBytesPerToken = wb.WeightBytesPerToken()
	}
	if len(m.Weights.Layers) > 0 && m.Weights.Layers[0].Q != nil {
		res.DType = m.Weights.Layers[0].Q.DType.String()
	}
	fmt.Fprintf(stderr, "bench: %s (%s, %s, %d layers, %.0fM parameters), %d threads, batch %d, %s KV cache, "+
		"sparse attention %s\n", *modelPath, cfg.Arch, res.DType, cfg.NumLayers, float64(res.Params)/1e6, *threads,
		*batch, res.KV, describeSparse(sparseCfg))
	var prober *cpu.BandwidthProbe
	if *bwMB > 0 && res.WeightBytesPerToken > 0 {
		prober = cpu.NewBandwidthProbe(*bwMB<<20, *threads)
	}
	measureBW := prober != nil
	probe := func() {
		res.BandwidthSamples = append(res.BandwidthSamples, benchMeasure(prober)/1e9)
	}
	if measureBW {
		fmt.Fprintf(stderr, "bench: measuring memory read bandwidth over %d MiB (again about once a second "+
			"during the decode, untimed, and after it)...\n", *bwMB)
		probe()
		fmt.Fprintf(stderr, "bench: %.1f GB/s; %.1f MB of weights per decode step: at most %.1f steps/s\n",
			res.BandwidthSamples[0], float64(res.WeightBytesPerToken)/1e6,
			res.BandwidthSamples[0]*1e9/float64(res.WeightBytesPerToken))
	}

	V := cfg.VocabSize
	logits := make([][]float32, *batch)
	for i := range logits {
		logits[i] = make([]float32, V)
	}
	forward := func(b *backend.Batch) error {
		// One logits row a sequence: the warm-up and each prefill run one sequence of the
		// batch, and the xla backend takes exactly as many rows as sequences.
		return be.Forward(b, logits[:len(b.Seqs)])
	}
	appendSlots := func(s *kv.Sequence, n int) error {
		moves, err := s.Append(n)
		if err != nil {
			return err
		}
		if len(moves) > 0 {
			return be.CopySlots(moves)
		}
		return nil
	}

	phaser, phased := be.(interface {
		TimePhases(bool)
		PhaseTime() cpu.PhaseTime
	})
	if *phases && !phased {
		return fmt.Errorf("--phases: the %s backend does not time phases", *backendKind)
	}

	// Warm-up: one token through every weight (pages the file in), on a throwaway sequence.
	fmt.Fprintln(stderr, "bench: warm-up...")
	warm := pool.NewSequence()
	if err := appendSlots(warm, 1); err != nil {
		return err
	}
	if err := forward(&backend.Batch{Seqs: []backend.SeqInput{{Tokens: []int32{1}, Positions: []int32{0},
		Pages: warm.Pages(), Logits: true}}}); err != nil {
		return err
	}
	warm.Free()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	// Prefill: each sequence's prompt in one Forward; or, with --context, the context written
	// straight into the cache where the backend can, else prefilled in chunks.
	seqs := make([]*kv.Sequence, *batch)
	next := make([]int32, *batch)
	filler, canFill := be.(backend.CacheFiller)
	res.ContextWritten = *contextTokens > 0 && canFill
	start := time.Now()
	var prefillRates [2][]float64 // with --alternate: each set's sequences' prefill tokens/s
	for i := range seqs {
		seqStart := time.Now()
		restore := func() {}
		if useAlt != nil && i%2 == 1 && *contextTokens == 0 {
			restore = useAlt()
		}
		seqs[i] = pool.NewSequence()
		if err := appendSlots(seqs[i], *promptTokens); err != nil {
			return err
		}
		if res.ContextWritten {
			if err := filler.FillCache(seqs[i].Pages(), *promptTokens, uint64(i)+1); err != nil {
				return err
			}
			next[i] = int32((1000 + 7919*i) % V)
			continue
		}
		chunk := *promptTokens
		if *contextTokens > 0 {
			chunk = benchChunk
		}
		for at := 0; at < *promptTokens; at += chunk {
			n := min(chunk, *promptTokens-at)
			ids := make([]int32, n)
			pos := make([]int32, n)
			for j := range ids {
				ids[j] = int32((1000 + 7919*i + at + j) % V)
				pos[j] = int32(at + j)
			}
			in := backend.SeqInput{Tokens: ids, Positions: pos, Start: at, Pages: seqs[i].Pages(), Logits: true}
			// Logits land in row 0 for this one-sequence batch; keep each sequence's next token.
			if err := forward(&backend.Batch{Seqs: []backend.SeqInput{in}}); err != nil {
				restore()
				return err
			}
		}
		restore()
		if *contextTokens == 0 {
			prefillRates[i%2] = append(prefillRates[i%2], float64(*promptTokens)/time.Since(seqStart).Seconds())
		}
		next[i] = argmax(logits[0])
	}
	switch {
	case res.ContextWritten:
		fmt.Fprintf(stderr, "bench: context of %d x %d tokens written straight into the KV cache "+
			"(random keys and values, not prefilled) in %.2fs\n", *batch, *promptTokens, time.Since(start).Seconds())
	case *contextTokens > 0:
		fmt.Fprintf(stderr, "bench: context of %d x %d tokens prefilled in chunks of %d in %.2fs "+
			"(the backend cannot write its cache directly)\n", *batch, *promptTokens, benchChunk,
			time.Since(start).Seconds())
	default:
		res.PrefillSeconds = time.Since(start).Seconds()
		res.PrefillTokensPerS = float64(*batch**promptTokens) / res.PrefillSeconds
		fmt.Fprintf(stderr, "bench: prefill %d x %d tokens in %.2fs: %.1f tokens/s\n", *batch, *promptTokens,
			res.PrefillSeconds, res.PrefillTokensPerS)
	}

	// Decode: all sequences one token per step.
	b := &backend.Batch{Seqs: make([]backend.SeqInput, *batch)}
	tok := make([]int32, *batch)
	posv := make([]int32, *batch)
	var attended, context int64
	if *phases {
		phaser.TimePhases(true)
	}
	timer, timed := be.(interface{ AttentionTime() cpu.AttentionTime })
	var attn0 cpu.AttentionTime
	if timed {
		attn0 = timer.AttentionTime()
	}
	start = time.Now()
	report, probed := start, start
	var untimed time.Duration // the bandwidth probes between steps
	var stepMS [2][]float64   // with --alternate: each set's decode steps
	for step := 0; step < *newTokens; step++ {
		if now := time.Now(); measureBW && now.Sub(probed) > benchProbeEvery {
			probe()
			probed = time.Now()
			untimed += probed.Sub(now)
		}
		for i, s := range seqs {
			at := s.Len()
			if err := appendSlots(s, 1); err != nil {
				return err
			}
			tok[i], posv[i] = next[i], int32(at)
			b.Seqs[i] = backend.SeqInput{Tokens: tok[i : i+1], Positions: posv[i : i+1], Start: at,
				Pages: s.Pages(), Logits: true, Sparse: sparseCfg}
		}
		restore := func() {}
		if useAlt != nil && step%2 == 1 {
			restore = useAlt()
		}
		stepStart := time.Now()
		err := forward(b)
		stepMS[step%2] = append(stepMS[step%2], time.Since(stepStart).Seconds()*1e3)
		restore()
		if err != nil {
			return err
		}
		for i := range seqs {
			next[i] = argmax(logits[i])
			attended += int64(b.Seqs[i].Attended)
			context += int64(b.Seqs[i].Context)
		}
		if now := time.Now(); now.Sub(report) > 5*time.Second {
			report = now
			fmt.Fprintf(stderr, "bench: decode step %d/%d, %.1f tokens/s so far\n", step+1, *newTokens,
				float64((step+1)**batch)/(now.Sub(start)-untimed).Seconds())
		}
	}
	res.DecodeSeconds = (time.Since(start) - untimed).Seconds()
	if measureBW {
		probe()
		res.BandwidthGBPerS = median(res.BandwidthSamples)
		res.DecodeBoundTokensPS = res.BandwidthGBPerS * 1e9 / float64(res.WeightBytesPerToken)
		fmt.Fprintf(stderr, "bench: memory read bandwidth over the run: median %.1f GB/s of %d measurements "+
			"(%.1f to %.1f): at most %.1f steps/s\n", res.BandwidthGBPerS, len(res.BandwidthSamples),
			slices.Min(res.BandwidthSamples), slices.Max(res.BandwidthSamples), res.DecodeBoundTokensPS)
	}
	res.DecodeStepsPerS = float64(*newTokens) / res.DecodeSeconds
	res.DecodeTokensPerS = res.DecodeStepsPerS * float64(*batch)
	if res.BandwidthGBPerS > 0 {
		res.DecodeBandwidthShare = bandwidthShare(res.WeightBytesPerToken, res.DecodeStepsPerS, res.BandwidthGBPerS)
	}
	fmt.Fprintf(stderr, "bench: decode %d x %d tokens in %.2fs: %.1f tokens/s (%.0f%% of the memory bandwidth)\n",
		*batch, *newTokens, res.DecodeSeconds, res.DecodeTokensPerS, 100*res.DecodeBandwidthShare)
	if context > 0 {
		share := float64(attended) / float64(context)
		res.AttendedShare = &share
		fmt.Fprintf(stderr, "bench: decode tokens attended to %.1f%% of their context (%s KV cache, sparse "+
			"attention %s)\n", 100*share, res.KV, describeSparse(sparseCfg))
	}
	if timed {
		attn := timer.AttentionTime()
		res.AttentionUS = map[string]float64{}
		var total int64
		for mode := range attn.Layers {
			n := attn.Layers[mode] - attn0.Layers[mode]
			ns := attn.Nanos[mode] - attn0.Nanos[mode]
			total += ns
			if n > 0 {
				res.AttentionUS[sparse.Mode(mode).String()] = float64(ns) / float64(n) / 1e3
			}
		}
		share := float64(total) / 1e9 / res.DecodeSeconds
		res.AttentionShare = &share
		fmt.Fprintf(stderr, "bench: attention took %.0f%% of the decode time; per layer pass: %s\n", 100*share,
			describeAttention(res.AttentionUS))
	}
	if *phases {
		pt := phaser.PhaseTime()
		phaser.TimePhases(false)
		res.PhaseMS = map[string]float64{}
		var parts []string
		step := res.DecodeSeconds * 1e3 / float64(*newTokens)
		for p := cpu.Phase(0); p < cpu.NumPhases; p++ {
			ms := float64(pt.Nanos[p]) / 1e6 / float64(max(pt.Passes, 1))
			res.PhaseMS[p.String()] = ms
			parts = append(parts, fmt.Sprintf("%s %.3f (%.0f%%)", p, ms, 100*ms/step))
		}
		fmt.Fprintf(stderr, "bench: decode step by phase, ms (share of the %.3f ms step): %s\n", step,
			strings.Join(parts, ", "))
	}
	if useAlt != nil {
		alt := &benchAlternate{Kernels: *alternate, Steps: len(stepMS[1])}
		base := res.Kernels
		if tuning {
			alt.Kernels, alt.Settings = "", *alternate
			base = "the defaults"
			if res.Tunables != "" {
				base = res.Tunables
			}
		}
		name := alt.Kernels + alt.Settings
		if len(stepMS[1]) > 0 {
			alt.StepMS, alt.BaseStepMS = median(stepMS[1]), median(stepMS[0])
			alt.StepRatio = alt.StepMS / alt.BaseStepMS
			if res.BandwidthGBPerS > 0 {
				alt.Share = bandwidthShare(res.WeightBytesPerToken, 1e3/alt.StepMS, res.BandwidthGBPerS)
				alt.BaseShare = bandwidthShare(res.WeightBytesPerToken, 1e3/alt.BaseStepMS, res.BandwidthGBPerS)
			}
			shares := ""
			if alt.Share > 0 {
				shares = fmt.Sprintf(" (%.2f and %.2f of the bandwidth bound)", alt.Share, alt.BaseShare)
			}
			fmt.Fprintf(stderr, "bench: decode steps alternating, medians: %.3f ms with %s (%d steps), %.3f ms "+
				"with %s (%d): %.3fx%s\n", alt.StepMS, name, len(stepMS[1]), alt.BaseStepMS, base,
				len(stepMS[0]), alt.StepRatio, shares)
		}
		if len(prefillRates[1]) > 0 {
			alt.PrefillTokensPerS, alt.BasePrefillTokensPerS = median(prefillRates[1]), median(prefillRates[0])
			fmt.Fprintf(stderr, "bench: prefills alternating by sequence, medians: %.1f tokens/s with %s, %.1f "+
				"with %s\n", alt.PrefillTokensPerS, name, alt.BasePrefillTokensPerS, base)
		}
		res.Alternate = alt
	}
	if c, ok := be.(interface{ Compilations() int }); ok {
		n := c.Compilations()
		res.Compilations = &n
		fmt.Fprintf(stderr, "bench: %d graph compilations\n", n)
	}
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(line))
	return err
}

// median is the middle of v (the mean of the middle two for an even count); v is not changed.
func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// bandwidthShare is the share of the memory bandwidth (GB/s) that decode steps at stepsPerS
// take reading bytesPerStep of weights each: 1 where the step is as fast as reading its weights
// allows.
func bandwidthShare(bytesPerStep int64, stepsPerS, gbPerS float64) float64 {
	return float64(bytesPerStep) * stepsPerS / (gbPerS * 1e9)
}

// benchProbeEvery is how often bench measures the memory bandwidth again during a decode, and
// benchMeasure takes one measurement in bytes per second (variables so that a test can probe
// between every step, with measurements of known values and length).
var (
	benchProbeEvery = time.Second
	benchMeasure    = (*cpu.BandwidthProbe).Measure
)

// benchChunk is the prefill chunk of a --context that the backend cannot write directly.
const benchChunk = 512

// argmax is greedy sampling as the engine does it (sample.Argmax, whose block scan keeps the
// eight-sequence step from spending a few percent on it), with id 0 for all-NaN logits.
func argmax(v []float32) int32 {
	return max(sample.Argmax(v), 0)
}

// describeAttention lists attention times per layer pass by mode, in a fixed order.
func describeAttention(us map[string]float64) string {
	var parts []string
	for _, m := range []sparse.Mode{sparse.Full, sparse.Select, sparse.Sparse} {
		if v, ok := us[m.String()]; ok {
			parts = append(parts, fmt.Sprintf("%s %.0f us", m, v))
		}
	}
	return strings.Join(parts, ", ")
}
