package main

// arbor delta calibrate and arbor delta eval: DELTA sparse attention's offline tools. Both run
// the cpu backend with an attention probe over a data set's prompts, teacher-forced: each
// prompt's last tokens are decoded one at a time, as a long generation would decode them, with
// the context before them computed by full attention.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/sparse"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// deltaPageSize is the KV page size the serving commands use, and so the page a selection
// picks: calibrating or evaluating at another size would measure another policy.
const deltaPageSize = 16

// deltaRandomNote is printed with every result: the tools are exact, but a model with random
// weights has no attention structure for them to find.
const deltaRandomNote = "with random weights (arbor model new, the demo model) these figures mean little; " +
	"the computation is exact"

func cmdDelta(args []string, stdout, stderr io.Writer) error {
	if len(args) < 1 {
		return errors.New("delta: want a subcommand: calibrate, eval")
	}
	switch args[0] {
	case "calibrate":
		return cmdDeltaCalibrate(args[1:], stdout, stderr)
	case "eval":
		return cmdDeltaEval(args[1:], stdout, stderr)
	}
	return fmt.Errorf("delta: unknown subcommand %q (want calibrate or eval)", args[0])
}

// deltaCommon are the flags both subcommands take: where the model and the data are, and how
// much of each prompt to run.
type deltaCommon struct {
	model, data *string
	wholeText   *bool
	maxTokens   *int
	positions   *int
	threads     *int
	asJSON      *bool
}

func deltaFlags(name string, stderr io.Writer) (*deltaCommon, *flag.FlagSet) {
	fs := newFlags("delta "+name, stderr)
	c := &deltaCommon{
		model: fs.String("model", "", "model: a Hugging Face directory or a .gguf file (default: the built-in "+
			"demo model)"),
		data: fs.String("data", "", "prompts: text (prompts separated by blank lines) or JSONL (objects with a "+
			"\"prompt\" or \"text\" string, or \"messages\" in chat form)"),
		wholeText: fs.Bool("whole-text", false, "read a text --data file as one prompt instead of splitting it at "+
			"blank lines"),
		maxTokens: fs.Int("max-tokens", 2048, "the most tokens of each prompt to use (the first ones)"),
		positions: fs.Int("positions", 16, "decode positions probed at the end of each prompt (the tokens before "+
			"them are prefilled)"),
		threads: fs.Int("threads", 0, "worker threads (0: all cores)"),
		asJSON:  fs.Bool("json", false, "print one JSON object instead of a table"),
	}
	return c, fs
}

// setup loads the model and the data after the flags are parsed.
func (c *deltaCommon) setup(cmd string, stderr io.Writer) (*model.Model, [][]int32, error) {
	if *c.data == "" {
		return nil, nil, fmt.Errorf("delta %s: --data is required", cmd)
	}
	if *c.maxTokens < 2 || *c.positions < 1 {
		return nil, nil, fmt.Errorf("delta %s: --max-tokens must be at least 2 and --positions at least 1", cmd)
	}
	m, err := loadModel(*c.model, stderr)
	if err != nil {
		return nil, nil, err
	}
	prompts, err := deltaReadData(*c.data, *c.wholeText, m.Tokenizer)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("delta %s: %w", cmd, err)
	}
	var kept [][]int32
	truncated, short := 0, 0
	for _, ids := range prompts {
		for _, id := range ids {
			if id < 0 || int(id) >= m.Config.VocabSize {
				m.Close()
				return nil, nil, fmt.Errorf("delta %s: token %d outside the model's vocabulary of %d", cmd, id,
					m.Config.VocabSize)
			}
		}
		if len(ids) > *c.maxTokens {
			ids = ids[:*c.maxTokens]
			truncated++
		}
		if len(ids) < 2 {
			short++ // nothing before the only token: no decode to probe
			continue
		}
		kept = append(kept, ids)
	}
	if truncated > 0 {
		fmt.Fprintf(stderr, "arbor: %d of %d prompts cut to their first %d tokens (--max-tokens)\n", truncated,
			len(prompts), *c.maxTokens)
	}
	if short > 0 {
		fmt.Fprintf(stderr, "arbor: %d prompts of fewer than 2 tokens skipped\n", short)
	}
	if len(kept) == 0 {
		m.Close()
		return nil, nil, fmt.Errorf("delta %s: %s holds no prompt of 2 tokens or more", cmd, *c.data)
	}
	return m, kept, nil
}

// deltaReadData reads --data into token ids, one slice per prompt. A file whose first
// non-blank character is '{' is JSONL; anything else is text. Text is encoded as generate
// encodes --prompt (a BOS where the tokenizer adds one); chat messages go through the model's
// chat template, whose text carries any BOS itself, or, without a template, are joined.
func deltaReadData(path string, whole bool, tok *tokenizer.Tokenizer) ([][]int32, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	encode := func(text string) []int32 {
		ids := tok.Encode(text)
		if tok.AddBOS() {
			ids = append([]int32{tok.BOS()}, ids...)
		}
		return ids
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	if trimmed[0] != '{' {
		if whole {
			return [][]int32{encode(string(trimmed))}, nil
		}
		var out [][]int32
		for _, p := range deltaSplitBlank(string(raw)) {
			out = append(out, encode(p))
		}
		return out, nil
	}

	var tmpl *chat.Template // compiled on the first "messages" line
	var out [][]int32
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, len(raw)+1) // a line may be the whole file
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var rec struct {
			Prompt   *string        `json:"prompt"`
			Text     *string        `json:"text"`
			Messages []chat.Message `json:"messages"`
		}
		if err := json.Unmarshal(text, &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		switch {
		case rec.Prompt != nil:
			out = append(out, encode(*rec.Prompt))
		case rec.Text != nil:
			out = append(out, encode(*rec.Text))
		case len(rec.Messages) > 0:
			src := tok.ChatTemplate()
			if src == "" {
				out = append(out, encode(deltaJoinMessages(rec.Messages)))
				continue
			}
			if tmpl == nil {
				if tmpl, err = chat.Compile(src); err != nil {
					return nil, fmt.Errorf("chat template: %w", err)
				}
			}
			rendered, err := tmpl.Render(chat.Input{
				Messages: rec.Messages,
				// A conversation that ends on a user turn is one the model would answer next.
				AddGenerationPrompt: rec.Messages[len(rec.Messages)-1].Role != "assistant",
				BOSToken:            tok.BOSToken(),
				EOSToken:            tok.EOSToken(),
			})
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			out = append(out, tok.Encode(rendered))
		default:
			return nil, fmt.Errorf("%s:%d: want a \"prompt\" or \"text\" string or \"messages\"", path, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// deltaSplitBlank splits text into the runs of lines between blank (or whitespace-only) lines.
func deltaSplitBlank(text string) []string {
	var out []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = cur[:0]
		}
	}
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		cur = append(cur, l)
	}
	flush()
	return out
}

// deltaJoinMessages is a conversation's text for a model without a chat template: the
// contents, a blank line apart.
func deltaJoinMessages(msgs []chat.Message) string {
	parts := make([]string, 0, len(msgs))
	for _, m := range msgs {
		s := m.Content
		for _, p := range m.Parts {
			s += p.Text
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "\n\n")
}

// deltaRunner runs one prompt at a time on a cpu backend: a full-attention prefill from slot 0,
// then single-token decodes. Every prompt rewrites the slots it reads, so one cache serves all.
type deltaRunner struct {
	be     *cpu.Backend
	pages  []int32
	logits [][]float32
}

func newDeltaRunner(m *model.Model, threads, maxLen int) (*deltaRunner, error) {
	numPages := (maxLen + deltaPageSize - 1) / deltaPageSize
	be, err := cpu.New(m, cpu.Options{Threads: threads, PageSize: deltaPageSize, NumPages: numPages})
	if err != nil {
		return nil, err
	}
	r := &deltaRunner{be: be, pages: make([]int32, numPages),
		logits: [][]float32{make([]float32, m.Config.VocabSize)}}
	for i := range r.pages {
		r.pages[i] = int32(i)
	}
	return r, nil
}

func (r *deltaRunner) Close() error { return r.be.Close() }

// deltaPrefillChunk bounds a prefill step's activations on long prompts.
const deltaPrefillChunk = 512

// prefill writes ids' keys and values into slots [0, len(ids)) with full attention, unprobed.
func (r *deltaRunner) prefill(ids []int32) error {
	r.be.SetAttentionProbe(nil)
	for start := 0; start < len(ids); start += deltaPrefillChunk {
		end := min(start+deltaPrefillChunk, len(ids))
		pos := make([]int32, end-start)
		for i := range pos {
			pos[i] = int32(start + i)
		}
		in := backend.SeqInput{Tokens: ids[start:end], Positions: pos, Start: start, Pages: r.pages}
		if err := r.be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, r.logits); err != nil {
			return err
		}
	}
	return nil
}

// decode runs ids[p] at slot p (slots below it hold the context) with sp (nil: full
// attention), reporting each layer to probe when set, and returns the next-token logits
// (valid until the next call) and the input with Attended and Context filled in.
func (r *deltaRunner) decode(ids []int32, p int, sp *sparse.Config, probe func(*backend.AttentionProbe)) (
	[]float32, backend.SeqInput, error) {
	r.be.SetAttentionProbe(probe)
	defer r.be.SetAttentionProbe(nil)
	b := &backend.Batch{Seqs: []backend.SeqInput{{Tokens: ids[p : p+1], Positions: []int32{int32(p)}, Start: p,
		Pages: r.pages, Logits: true, Sparse: sp}}}
	if err := r.be.Forward(b, r.logits); err != nil {
		return nil, backend.SeqInput{}, err
	}
	return r.logits[0], b.Seqs[0], nil
}

// deltaFirstProbed is the first of a prompt's probed positions: the last `positions` tokens,
// leaving at least one token to prefill.
func deltaFirstProbed(n, positions int) int { return max(1, n-positions) }

// deltaMaxLen is the longest prompt: the cache the runner needs.
func deltaMaxLen(prompts [][]int32) int {
	n := 0
	for _, p := range prompts {
		n = max(n, len(p))
	}
	return n
}

// deltaDistances accumulates what sparse.LayerDistances needs of each pair of adjacent layers'
// attention maps, a probed token at a time, so that a calibration set of any size takes the
// memory of one token's maps: the map of layer l is the concatenation, over the probed tokens
// in order, of every query head's probabilities over the token's context (the probe's Probs),
// and 1 - cos(a(l-1), a(l)) only needs dot(a(l-1), a(l)), |a(l-1)|² and |a(l)|². The sums run
// in LayerDistances' order over the same elements, so the distances are its, bit for bit.
type deltaDistances struct {
	dot, norm []float64 // dot[l]: a(l-1)·a(l) (l >= 1); norm[l]: |a(l)|²
	prev      []float32 // the current token's map at the layer below
	next      int       // the layer the probe should report next
	tokens    int       // probed tokens
}

func newDeltaDistances(layers int) *deltaDistances {
	return &deltaDistances{dot: make([]float64, layers), norm: make([]float64, layers)}
}

// add takes one probe event; a decode reports its layers in order, 0 first.
func (a *deltaDistances) add(e *backend.AttentionProbe) error {
	if e.Layer != a.next {
		return fmt.Errorf("attention probe: layer %d reported, want %d", e.Layer, a.next)
	}
	probs := e.Probs[:e.Heads*e.N]
	if e.Layer > 0 {
		if len(a.prev) != len(probs) {
			return fmt.Errorf("attention probe: layer %d's map has %d entries, layer %d's %d", e.Layer, len(probs),
				e.Layer-1, len(a.prev))
		}
		dot := a.dot[e.Layer]
		for i, y := range probs {
			dot += float64(a.prev[i]) * float64(y)
		}
		a.dot[e.Layer] = dot
	}
	norm := a.norm[e.Layer]
	for _, y := range probs {
		norm += float64(y) * float64(y)
	}
	a.norm[e.Layer] = norm
	a.prev = append(a.prev[:0], probs...)
	a.next++
	if a.next == len(a.norm) {
		a.next = 0
		a.tokens++
	}
	return nil
}

// distances is LayerDistances' result for the maps added so far.
func (a *deltaDistances) distances() []float64 {
	d := make([]float64, len(a.norm))
	for l := 1; l < len(d); l++ {
		if na, nb := a.norm[l-1], a.norm[l]; na > 0 && nb > 0 {
			d[l] = 1 - a.dot[l]/math.Sqrt(na*nb)
		}
	}
	return d
}

// deltaCalibratePrompt prefills a prompt and decodes its probed positions with full attention,
// reporting every layer of each to probe.
func deltaCalibratePrompt(r *deltaRunner, ids []int32, positions int, probe func(*backend.AttentionProbe)) error {
	first := deltaFirstProbed(len(ids), positions)
	if err := r.prefill(ids[:first]); err != nil {
		return err
	}
	for p := first; p < len(ids); p++ {
		if _, _, err := r.decode(ids, p, nil, probe); err != nil {
			return err
		}
	}
	return nil
}

type deltaCalibrateResult struct {
	Prompts   int            `json:"prompts"`
	Positions int            `json:"positions"`
	Distances []float64      `json:"distances"`
	Config    *sparse.Config `json:"config"`
	Out       string         `json:"out"`
	Note      string         `json:"note"`
}

func cmdDeltaCalibrate(args []string, stdout, stderr io.Writer) error {
	c, fs := deltaFlags("calibrate", stderr)
	out := fs.String("out", "", "where to write the sparse config (JSON)")
	numSelect := fs.Int("select", -1, "select layers to place (default: as many as sparse.DefaultConfig gives the "+
		"model: DELTA's 3, fewer on shallow models)")
	full := fs.Int("full", 2, "leading layers that stay full")
	budget := fs.Int("sparse-budget", sparse.DefaultBudget, "the config's budget: best-scored pages kept")
	recent := fs.Int("sparse-recent", sparse.DefaultRecent, "the config's recent window: last pages always kept")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("delta calibrate: --out is required")
	}
	m, prompts, err := c.setup("calibrate", stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	L := m.Config.NumLayers
	if *numSelect < 0 {
		def := sparse.DefaultConfig(L)
		*numSelect = 0
		for _, mode := range def.Layers {
			if mode == sparse.Select {
				*numSelect++
			}
		}
	}
	if *full < 0 || *full > L {
		return fmt.Errorf("delta calibrate: --full %d outside the model's %d layers", *full, L)
	}
	if *numSelect == 0 || *full == L {
		fmt.Fprintf(stderr, "arbor: no select layer to place (%d layers, --full %d, --select %d): the config "+
			"will have every layer full; DELTA's default gives models of 4 layers or fewer none\n", L, *full,
			*numSelect)
	}

	r, err := newDeltaRunner(m, *c.threads, deltaMaxLen(prompts))
	if err != nil {
		return fmt.Errorf("delta calibrate: %w", err)
	}
	defer r.Close()
	acc := newDeltaDistances(L)
	var probeErr error
	probe := func(e *backend.AttentionProbe) {
		if err := acc.add(e); err != nil && probeErr == nil {
			probeErr = err
		}
	}
	for i, ids := range prompts {
		if err := deltaCalibratePrompt(r, ids, *c.positions, probe); err != nil {
			return fmt.Errorf("delta calibrate: prompt %d: %w", i+1, err)
		}
		if probeErr != nil {
			return fmt.Errorf("delta calibrate: prompt %d: %w", i+1, probeErr)
		}
	}

	d := acc.distances()
	cfg := sparse.ConfigFromDistances(d, *full, *numSelect)
	cfg.Budget, cfg.Recent = *budget, *recent
	if err := cfg.Validate(L); err != nil {
		return fmt.Errorf("delta calibrate: %w", err)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("delta calibrate: %w", err)
	}
	if err := os.WriteFile(*out, append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("delta calibrate: %w", err)
	}
	res := deltaCalibrateResult{Prompts: len(prompts), Positions: acc.tokens, Distances: d, Config: &cfg,
		Out: *out, Note: deltaRandomNote}
	if *c.asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	w := bufio.NewWriter(stdout)
	fmt.Fprintf(w, "%d prompts, %d probed decode positions, %d layers\n", res.Prompts, res.Positions, L)
	fmt.Fprintf(w, "%5s  %-20s  %s\n", "layer", "1-cos(below, layer)", "mode")
	for l, x := range d {
		dist := fmt.Sprintf("%.6f", x)
		if l == 0 {
			dist = "-"
		}
		fmt.Fprintf(w, "%5d  %-20s  %s\n", l, dist, cfg.Layers[l])
	}
	fmt.Fprintf(w, "budget %d pages, recent %d pages (%d-token pages); wrote %s\n", cfg.Budget, cfg.Recent,
		deltaPageSize, *out)
	fmt.Fprintf(w, "note: %s\n", deltaRandomNote)
	return w.Flush()
}

// deltaEval accumulates eval's figures over the probed positions.
type deltaEval struct {
	cfg *sparse.Config
	// Per layer, over all positions and over the sparse ones: the sum of mass shares, and the
	// smallest share.
	share, shareSparse, minShare []float64
	positions, sparsePositions   int
	kl, klSparse, klMax          float64
	attended, context            int
	// fullLogits, when set (tests), sees each position's full-attention logits.
	fullLogits func(p int, logits []float32)
}

func newDeltaEval(cfg *sparse.Config, layers int) *deltaEval {
	e := &deltaEval{cfg: cfg, share: make([]float64, layers), shareSparse: make([]float64, layers),
		minShare: make([]float64, layers)}
	for l := range e.minShare {
		e.minShare[l] = 1
	}
	return e
}

// deltaMassShare is the share of the full attention's probability mass that a sparse layer's
// picked pages hold, averaged over the query heads: per head, the sum of its probabilities
// over the picked pages' slots over its sum over every slot. The two sums add the same
// elements in the same order when every page is picked, so such a share is exactly 1.
func deltaMassShare(e *backend.AttentionProbe, pageSize int) float64 {
	if e.Picked == nil {
		return 1 // attended to every slot
	}
	total := 0.0
	for h := 0; h < e.Heads; h++ {
		row := e.Probs[h*e.N : (h+1)*e.N]
		var all, in float64
		for _, x := range row {
			all += float64(x)
		}
		for _, pg := range e.Picked {
			// The page's slots inside the context (a sliding window starts it at First).
			lo := min(max(int(pg)*pageSize-e.First, 0), e.N)
			hi := min(max((int(pg)+1)*pageSize-e.First, 0), e.N)
			for _, x := range row[lo:hi] {
				in += float64(x)
			}
		}
		if all > 0 {
			total += in / all
		}
	}
	return total / float64(e.Heads)
}

// deltaKL is KL(p || q) for the softmax distributions of logits p and q, in float64. It is
// never negative in exact arithmetic; a rounding-level negative is reported as 0. Identical
// logits give exactly 0.
func deltaKL(p, q []float32) float64 {
	lp, lq := deltaLogSumExp(p), deltaLogSumExp(q)
	kl := 0.0
	for i := range p {
		a := float64(p[i]) - lp
		b := float64(q[i]) - lq
		kl += math.Exp(a) * (a - b)
	}
	return max(kl, 0)
}

func deltaLogSumExp(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, float64(v))
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// prompt evaluates one prompt's probed positions. Each is decoded twice over the same context:
// first with the sparse config (probed), then with full attention. The order matters: both
// runs write the token's own keys and values into its slot before attending, and the sparse
// run's differ above its first sparse layer; the full run overwrites them, so it computes
// exactly what a full-only run computes and leaves the cache the next position needs, that of
// a full-attention context (the positions are teacher-forced).
func (ev *deltaEval) prompt(r *deltaRunner, ids []int32, positions int) error {
	first := deltaFirstProbed(len(ids), positions)
	if err := r.prefill(ids[:first]); err != nil {
		return err
	}
	shares := make([]float64, len(ev.share))
	seen := make([]bool, len(ev.share))
	probe := func(e *backend.AttentionProbe) {
		if e.Mode == sparse.Sparse {
			shares[e.Layer] = deltaMassShare(e, deltaPageSize)
			seen[e.Layer] = true
		}
	}
	sparseLogits := make([]float32, len(r.logits[0]))
	for p := first; p < len(ids); p++ {
		clear(seen)
		lg, in, err := r.decode(ids, p, ev.cfg, probe)
		if err != nil {
			return err
		}
		copy(sparseLogits, lg)
		full, _, err := r.decode(ids, p, nil, nil)
		if err != nil {
			return err
		}
		if ev.fullLogits != nil {
			ev.fullLogits(p, full)
		}
		// As the backend decides: once the token's slots fill more pages than a selection
		// keeps (under a sliding window, it then picks among the window's pages).
		active := ev.cfg.Active(p+1, deltaPageSize)
		kl := deltaKL(full, sparseLogits)
		ev.positions++
		ev.kl += kl
		ev.klMax = max(ev.klMax, kl)
		ev.attended += in.Attended
		ev.context += in.Context
		if active {
			ev.sparsePositions++
			ev.klSparse += kl
		}
		for l, mode := range ev.cfg.Layers {
			if mode != sparse.Sparse {
				continue
			}
			if !seen[l] {
				return fmt.Errorf("position %d: no probe of sparse layer %d", p, l)
			}
			ev.share[l] += shares[l]
			ev.minShare[l] = min(ev.minShare[l], shares[l])
			if active {
				ev.shareSparse[l] += shares[l]
			}
		}
	}
	return nil
}

type deltaEvalLayer struct {
	Layer int `json:"layer"`
	// MassShare is the mean over every probed position; MassShareSparse over the positions
	// that attended sparsely (absent when none did).
	MassShare       float64  `json:"mass_share"`
	MassShareSparse *float64 `json:"mass_share_sparse,omitempty"`
	MinMassShare    float64  `json:"min_mass_share"`
}

type deltaEvalResult struct {
	Config          *sparse.Config   `json:"config"`
	Prompts         int              `json:"prompts"`
	Positions       int              `json:"positions"`
	SparsePositions int              `json:"sparse_positions"`
	DensePositions  int              `json:"dense_positions"`
	Layers          []deltaEvalLayer `json:"layers"`
	KLMean          float64          `json:"kl_mean"`
	KLMeanSparse    *float64         `json:"kl_mean_sparse,omitempty"`
	KLMax           float64          `json:"kl_max"`
	AttendedMean    float64          `json:"attended_mean"`
	ContextMean     float64          `json:"context_mean"`
	Note            string           `json:"note"`
}

func (ev *deltaEval) result(prompts int) deltaEvalResult {
	res := deltaEvalResult{Config: ev.cfg, Prompts: prompts, Positions: ev.positions,
		SparsePositions: ev.sparsePositions, DensePositions: ev.positions - ev.sparsePositions,
		Layers: []deltaEvalLayer{}, Note: deltaRandomNote}
	n := float64(ev.positions)
	res.KLMean, res.KLMax = ev.kl/n, ev.klMax
	res.AttendedMean, res.ContextMean = float64(ev.attended)/n, float64(ev.context)/n
	if ev.sparsePositions > 0 {
		k := ev.klSparse / float64(ev.sparsePositions)
		res.KLMeanSparse = &k
	}
	for l, mode := range ev.cfg.Layers {
		if mode != sparse.Sparse {
			continue
		}
		row := deltaEvalLayer{Layer: l, MassShare: ev.share[l] / n, MinMassShare: ev.minShare[l]}
		if ev.sparsePositions > 0 {
			s := ev.shareSparse[l] / float64(ev.sparsePositions)
			row.MassShareSparse = &s
		}
		res.Layers = append(res.Layers, row)
	}
	return res
}

func cmdDeltaEval(args []string, stdout, stderr io.Writer) error {
	c, fs := deltaFlags("eval", stderr)
	cfgPath := fs.String("sparse-config", "", "the sparse config to evaluate (JSON, as delta calibrate writes; "+
		"default: DELTA's placement scaled to the model)")
	budget := fs.Int("sparse-budget", 0, fmt.Sprintf("override the config's budget: best-scored pages kept "+
		"(default config: %d)", sparse.DefaultBudget))
	recent := fs.Int("sparse-recent", 0, fmt.Sprintf("override the config's recent window: last pages always "+
		"kept (default config: %d)", sparse.DefaultRecent))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *budget < 0 || *recent < 0 {
		return errors.New("delta eval: --sparse-budget and --sparse-recent must be positive")
	}
	m, prompts, err := c.setup("eval", stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	L := m.Config.NumLayers
	cfg := sparse.DefaultConfig(L)
	if *cfgPath != "" {
		b, err := os.ReadFile(*cfgPath)
		if err != nil {
			return fmt.Errorf("delta eval: %w", err)
		}
		cfg = sparse.Config{}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return fmt.Errorf("delta eval: %s: %w", *cfgPath, err)
		}
	}
	if *budget > 0 {
		cfg.Budget = *budget
	}
	if *recent > 0 {
		cfg.Recent = *recent
	}
	if err := cfg.Validate(L); err != nil {
		return fmt.Errorf("delta eval: %w", err)
	}
	hasSparse := false
	for _, mode := range cfg.Layers {
		hasSparse = hasSparse || mode == sparse.Sparse
	}
	if !hasSparse {
		fmt.Fprintf(stderr, "arbor: WARNING: the config has no sparse layer (a model of %d layers gets none by "+
			"default): there is nothing to measure\n", L)
	}

	r, err := newDeltaRunner(m, *c.threads, deltaMaxLen(prompts))
	if err != nil {
		return fmt.Errorf("delta eval: %w", err)
	}
	defer r.Close()
	ev := newDeltaEval(&cfg, L)
	for i, ids := range prompts {
		if err := ev.prompt(r, ids, *c.positions); err != nil {
			return fmt.Errorf("delta eval: prompt %d: %w", i+1, err)
		}
	}
	res := ev.result(len(prompts))
	if res.DensePositions > 0 {
		fmt.Fprintf(stderr, "arbor: WARNING: %d of %d probed positions had a context of at most %d pages "+
			"(budget %d + recent %d, %d tokens) and attended fully: they count as mass share 1 and KL 0%s\n",
			res.DensePositions, res.Positions, cfg.Budget+cfg.Recent, cfg.Budget, cfg.Recent,
			(cfg.Budget+cfg.Recent)*deltaPageSize, deltaDenseHint(res))
	}
	if *c.asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	w := bufio.NewWriter(stdout)
	fmt.Fprintf(w, "%d prompts, %d probed decode positions: %d attended sparsely, %d fully (context at most "+
		"%d pages)\n", res.Prompts, res.Positions, res.SparsePositions, res.DensePositions, cfg.Budget+cfg.Recent)
	fmt.Fprintf(w, "config: %d layers, budget %d pages, recent %d pages (%d-token pages)\n", L, cfg.Budget,
		cfg.Recent, deltaPageSize)
	fmt.Fprintf(w, "attended %.1f of %.1f context tokens per position, averaged over the layers\n",
		res.AttendedMean, res.ContextMean)
	fmt.Fprintf(w, "full attention's probability mass on the picked pages, per sparse layer:\n")
	fmt.Fprintf(w, "%5s  %10s  %17s  %10s\n", "layer", "mean", "mean when sparse", "min")
	for _, row := range res.Layers {
		fmt.Fprintf(w, "%5d  %10.6f  %17s  %10.6f\n", row.Layer, row.MassShare, deltaOpt(row.MassShareSparse),
			row.MinMassShare)
	}
	fmt.Fprintf(w, "KL(full || sparse) of the next-token distribution: mean %.6g, mean when sparse %s, max %.6g\n",
		res.KLMean, deltaOpt(res.KLMeanSparse), res.KLMax)
	fmt.Fprintf(w, "note: %s\n", deltaRandomNote)
	return w.Flush()
}

func deltaDenseHint(res deltaEvalResult) string {
	if res.SparsePositions == 0 {
		return "; NO position attended sparsely: give longer prompts or a smaller --sparse-budget"
	}
	return ""
}

func deltaOpt(x *float64) string {
	if x == nil {
		return "-"
	}
	return fmt.Sprintf("%.6g", *x)
}
