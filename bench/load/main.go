// Command load is Arbor's serving benchmark: streaming chat clients at several concurrencies
// against `arbor serve`, a prefix-caching run (time to first token of a cold and a warm request
// sharing a ~1,000-token system prompt), and a pressure run (64 clients against a small queue:
// nothing but 429s may fail, and the server must return to idle afterwards).
//
//	go run ./bench/load                       # everything, on a tiny random-weight model
//	go run ./bench/load --clients 1,4 --duration 5s --skip-pressure
//	go run ./bench/load --url http://127.0.0.1:8080   # an already running server (no pressure run)
//
// Two other modes replace those runs:
//
//	go run ./bench/load --adversarial   # plain latency with and without one costly grammar request
//	go run ./bench/load --soak 10m      # mixed traffic, then the server must return to its state
//
// It prints Markdown tables on stdout, progress on stderr, and exits 1 when a check fails (an
// error other than a 429 under pressure, a server that does not return to idle, a prefix-cache
// ratio under --min-prefix-ratio, a plain p99 over --adversarial-max-ratio of its baseline, a
// 5xx or a leak in the soak), 2 on bad flags or when it cannot run at all.
// See bench/load/README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	url       string
	arbor     string
	model     string
	shape     string
	dtype     string
	threads   int
	clients   []int
	duration  time.Duration
	requests  int
	maxTokens int
	temp      float64
	ctxLen    int
	kvPages   int
	timeout   time.Duration

	prefixTokens int
	prefixReps   int
	minRatio     float64
	skipPrefix   bool

	skipPressure     bool
	pressureClients  int
	pressureDuration time.Duration
	pressureQueue    int
	pressureSeqs     int
	pressureKVPages  int
	abandonEvery     int
	idleTimeout      time.Duration

	adversarial bool          // the adversarial-grammar benchmark instead of the default runs
	advKinds    []string      // adversarial request shapes: pattern, enum
	advClients  int           // plain clients
	advDuration time.Duration // plain traffic per run
	advTokens   int           // max_tokens of the plain and the adversarial requests
	advEnum     int           // strings in the enum schema
	advRatio    float64       // the p99 ratio (loaded / baseline) above which the check fails
	advTimeout  time.Duration // one adversarial request at most

	soak         time.Duration // the soak instead of the default runs (0: no soak)
	soakClients  int
	soakWarmup   time.Duration
	soakIdle     time.Duration
	soakMix      []int // weights by soakKind
	soakTokens   int   // max_tokens of the soak's requests
	soakRSSRatio float64
	soakGoSlack  int // goroutines allowed above the pre-soak count
	soakOversize int // bytes of the oversize request body
	soakTrees    int // distinct tree schemas (0: a new one for every request)

	keep bool
}

func main() {
	os.Exit(run())
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", args...)
}

func run() int {
	var cfg config
	var clients string
	flag.StringVar(&cfg.url, "url", "", "benchmark this running server (http://127.0.0.1:PORT) instead of "+
		"starting one; skips the pressure run")
	flag.StringVar(&cfg.arbor, "arbor", "", "the arbor binary (default: go build ./cmd/arbor into a temporary "+
		"directory)")
	flag.StringVar(&cfg.model, "model", "", "serve this model (.gguf or Hugging Face directory) instead of a "+
		"random one of --shape")
	flag.StringVar(&cfg.shape, "shape", "tiny", "shape of the random-weight model to make with `arbor model "+
		"new` (see `arbor model shapes`)")
	flag.StringVar(&cfg.dtype, "dtype", "f32", "weight type of that model")
	flag.IntVar(&cfg.threads, "threads", 0, "the server's --threads (0: all cores)")
	flag.StringVar(&clients, "clients", "1,4,16,64", "concurrencies to measure, comma-separated")
	flag.DurationVar(&cfg.duration, "duration", 20*time.Second,
		"how long each concurrency keeps sending new requests (requests in flight then finish)")
	flag.IntVar(&cfg.requests, "requests", 0, "at most this many requests per client and concurrency (0: no "+
		"limit but --duration); each client sends at least one")
	flag.IntVar(&cfg.maxTokens, "max-tokens", 64, "max_tokens of each request")
	flag.Float64Var(&cfg.temp, "temperature", 1, "temperature of each request (a random model rarely samples "+
		"an end token, so requests run to max_tokens)")
	flag.IntVar(&cfg.ctxLen, "ctx", 2048, "the server's --ctx")
	flag.IntVar(&cfg.kvPages, "kv-pages", 2048, "the server's --kv-pages (pages of 16 tokens) for the load and "+
		"prefix runs")
	flag.DurationVar(&cfg.timeout, "request-timeout", 5*time.Minute,
		"give up on one request after this long (counted as an error)")
	flag.IntVar(&cfg.prefixTokens, "prefix-tokens", 1000,
		"tokens of the shared system prompt in the prefix-caching run")
	flag.IntVar(&cfg.prefixReps, "prefix-reps", 7, "cold/warm pairs, each with its own prefix")
	flag.Float64Var(&cfg.minRatio, "min-prefix-ratio", 5,
		"fail unless the median cold/warm TTFT ratio reaches this (0: report only)")
	flag.BoolVar(&cfg.skipPrefix, "skip-prefix", false, "skip the prefix-caching run")
	flag.BoolVar(&cfg.skipPressure, "skip-pressure", false, "skip the pressure run")
	flag.IntVar(&cfg.pressureClients, "pressure-clients", 64, "clients in the pressure run")
	flag.DurationVar(&cfg.pressureDuration, "pressure-duration", 15*time.Second,
		"how long the pressure run keeps sending new requests")
	flag.IntVar(&cfg.pressureQueue, "pressure-max-queue", 8, "the pressure server's --max-queue")
	flag.IntVar(&cfg.pressureSeqs, "pressure-max-seqs", 4, "the pressure server's --max-seqs")
	flag.IntVar(&cfg.pressureKVPages, "pressure-kv-pages", 16,
		"the pressure server's --kv-pages (its --ctx is the same number of tokens, at most --ctx)")
	flag.IntVar(&cfg.abandonEvery, "abandon-every", 4,
		"in the pressure run, every Nth request of a client hangs up after 3 deltas (0: never)")
	flag.DurationVar(&cfg.idleTimeout, "idle-timeout", 15*time.Second,
		"how long the server may take to return to idle after a run")
	flag.BoolVar(&cfg.adversarial, "adversarial", false,
		"run the adversarial-grammar benchmark (plain latency with and without one costly grammar request) "+
			"instead of the default runs")
	advKinds := flag.String("adversarial-kinds", "pattern,enum,enum-seq",
		"adversarial requests to run, comma-separated: pattern (a regex of nested stars), enum (a huge enum of "+
			"varied strings), enum-seq (a huge enum of value-000000, value-000001, ...)")
	flag.IntVar(&cfg.advClients, "adversarial-clients", 4, "plain streaming clients in each adversarial-grammar run")
	flag.DurationVar(&cfg.advDuration, "adversarial-duration", 20*time.Second,
		"how long each run's plain clients keep sending (a baseline and a loaded run per kind)")
	flag.IntVar(&cfg.advTokens, "adversarial-max-tokens", 32, "max_tokens of the plain and the adversarial requests")
	flag.IntVar(&cfg.advEnum, "adversarial-enum-size", 100000, "distinct strings in the enum schema")
	flag.Float64Var(&cfg.advRatio, "adversarial-max-ratio", 2,
		"fail when a plain TTFT or ITL p99 with the adversary exceeds the baseline's by more than this factor")
	flag.DurationVar(&cfg.advTimeout, "adversarial-timeout", 90*time.Second,
		"give up on one adversarial request after this long")
	flag.DurationVar(&cfg.soak, "soak", 0,
		"run a soak of mixed traffic for this long instead of the default runs (e.g. 10m)")
	flag.IntVar(&cfg.soakClients, "soak-clients", 8, "concurrent clients in the soak")
	flag.DurationVar(&cfg.soakWarmup, "soak-warmup", time.Minute,
		"mixed traffic before the soak, after which the baseline RSS, goroutines and KV pages are read")
	flag.DurationVar(&cfg.soakIdle, "soak-idle", time.Minute,
		"how long the server rests after the soak before the final reading")
	soakMix := flag.String("soak-mix", defaultSoakMix, "weights of the soak's request kinds")
	flag.IntVar(&cfg.soakTokens, "soak-max-tokens", 32,
		"max_tokens of the soak's requests (tree requests get 5 times as many)")
	flag.Float64Var(&cfg.soakRSSRatio, "soak-max-rss-ratio", 1.5,
		"fail when the RSS after the soak and the rest exceeds the RSS after the warm-up by more than this factor")
	flag.IntVar(&cfg.soakGoSlack, "soak-goroutine-slack", 2,
		"goroutines the server may hold above its pre-soak count after the rest")
	flag.IntVar(&cfg.soakTrees, "soak-tree-schemas", 16,
		"distinct task-tree schemas, each forcing its own calculator expression (0: a new one for every tree request)")
	flag.IntVar(&cfg.soakOversize, "soak-oversize-bytes", 9<<20,
		"size of the soak's oversize request body (over the server's --max-body, 8 MiB by default)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (model, binary, server logs)")
	flag.Parse()
	if flag.NArg() > 0 {
		logf("unexpected arguments: %q", flag.Args())
		return 2
	}
	for _, f := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			logf("--clients: %q is not a positive number", f)
			return 2
		}
		cfg.clients = append(cfg.clients, n)
	}
	if cfg.maxTokens < 1 || cfg.duration <= 0 || cfg.requests < 0 || cfg.prefixReps < 1 || cfg.prefixTokens < 32 ||
		cfg.pressureClients < 1 || cfg.pressureQueue < 1 || cfg.pressureSeqs < 1 || cfg.pressureKVPages < 2 ||
		cfg.abandonEvery < 0 {
		logf("bad flag values (see -h)")
		return 2
	}
	for _, k := range strings.Split(*advKinds, ",") {
		if k = strings.TrimSpace(k); k != "pattern" && k != "enum" && k != "enum-seq" {
			logf("--adversarial-kinds: %q is not pattern, enum or enum-seq", k)
			return 2
		}
		cfg.advKinds = append(cfg.advKinds, strings.TrimSpace(k))
	}
	mix, err := parseMix(*soakMix)
	if err != nil {
		logf("--soak-mix: %v", err)
		return 2
	}
	cfg.soakMix = mix
	if cfg.advClients < 1 || cfg.advDuration <= 0 || cfg.advTokens < 1 || cfg.advEnum < 1 || cfg.advRatio <= 0 ||
		cfg.advTimeout <= 0 || cfg.soak < 0 || cfg.soakClients < 1 || cfg.soakWarmup < 0 || cfg.soakIdle < 0 ||
		cfg.soakTokens < 1 || cfg.soakRSSRatio <= 0 || cfg.soakGoSlack < 0 || cfg.soakOversize < 1 ||
		cfg.soakTrees < 0 {
		logf("bad flag values (see -h)")
		return 2
	}
	if cfg.url != "" {
		u, err := url.Parse(cfg.url)
		if err != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" &&
			u.Hostname() != "::1") {
			logf("--url must be http://127.0.0.1:PORT (this benchmark only talks to the local machine)")
			return 2
		}
		cfg.url = strings.TrimRight(cfg.url, "/")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{cfg: cfg, out: &bytes.Buffer{}}
	code := b.run(ctx)
	os.Stdout.Write(b.out.Bytes())
	return code
}

type bench struct {
	cfg  config
	dir  string
	out  *bytes.Buffer // the Markdown report
	hc   *http.Client  // keep-alive client for the load
	mc   *http.Client  // no keep-alive: scrapes and probes that must not hold connections open
	fail []string      // failed checks
}

func (b *bench) printf(format string, args ...any) { fmt.Fprintf(b.out, format, args...) }

func (b *bench) failf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.fail = append(b.fail, msg)
	logf("FAIL: %s", msg)
}

func (b *bench) run(ctx context.Context) int {
	cfg := &b.cfg
	maxClients := max(slices.Max(cfg.clients), cfg.advClients+1, cfg.soakClients)
	b.hc = &http.Client{Transport: &http.Transport{
		MaxIdleConns:        4 * (maxClients + cfg.pressureClients),
		MaxIdleConnsPerHost: 2 * (maxClients + cfg.pressureClients),
		IdleConnTimeout:     30 * time.Second, DisableCompression: true,
	}}
	b.mc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

	dir, err := os.MkdirTemp("", "arbor-load-")
	if err != nil {
		logf("%v", err)
		return 2
	}
	b.dir = dir
	if cfg.keep {
		logf("keeping %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if err := b.prepare(ctx); err != nil {
		logf("%v", err)
		return 2
	}

	started := time.Now()
	b.printf("## Arbor load benchmark\n\n")
	b.printf("%s\n\n", b.describe())

	var code int
	if cfg.adversarial || cfg.soak > 0 {
		code = b.runModes(ctx)
	} else {
		code = b.runStandard(ctx)
	}
	if code != 0 {
		return code
	}
	if ctx.Err() != nil {
		b.failf("interrupted")
	}
	b.printf("Total benchmark time: %s.\n", time.Since(started).Round(time.Second))
	if len(b.fail) > 0 {
		b.printf("\n**%d check(s) failed:**\n\n", len(b.fail))
		for _, f := range b.fail {
			b.printf("- %s\n", f)
		}
		return 1
	}
	b.printf("\nAll checks passed.\n")
	return 0
}

// runStandard is the default benchmark: prefix caching, the streaming clients and pressure. It
// returns 2 when it cannot run at all, 0 otherwise (failed checks are in b.fail).
func (b *bench) runStandard(ctx context.Context) int {
	cfg := &b.cfg
	var srv *server
	var err error
	if cfg.url != "" {
		srv = &server{url: cfg.url}
		if srv.name, err = firstModel(ctx, b.mc, cfg.url); err != nil {
			logf("%v", err)
			return 2
		}
	} else {
		args := b.serverArgs(cfg.ctxLen, cfg.kvPages, slices.Max(cfg.clients), 256)
		srv, err = startServer(ctx, b.mc, cfg.arbor, b.dir, "load", args)
		if err != nil {
			logf("%v", err)
			return 2
		}
		b.printf("Server: `arbor %s`\n\n", strings.Join(displayArgs(srv.args), " "))
	}
	stopSrv := func() {
		if err := srv.stop(); err != nil {
			b.failf("%v", err)
		}
	}

	// Warm-up: page the weights in, start the server's workers.
	for i := 0; i < 2; i++ {
		r := streamChat(ctx, b.hc, srv.url, b.request(srv.name, -1, i), 0)
		if r.outcome != outcomeOK {
			logf("warm-up request failed: %s", r.err)
			stopSrv()
			return 2
		}
	}
	if ctx.Err() == nil && !cfg.skipPrefix {
		b.prefixRun(ctx, srv)
	}
	if ctx.Err() == nil {
		b.loadRun(ctx, srv)
	}
	if ctx.Err() == nil {
		b.hc.CloseIdleConnections()
		b.printf("After the load runs: %s\n\n", b.waitIdle(ctx, srv, nil, 0))
	}
	if srv.cmd != nil {
		stopSrv()
	}
	if ctx.Err() == nil && !cfg.skipPressure {
		if cfg.url != "" {
			b.printf("### Pressure\n\nSkipped: it needs a server started with a small --max-queue (run without " +
				"--url).\n\n")
		} else {
			b.pressureRun(ctx)
		}
	}
	return 0
}

// runModes runs the adversarial-grammar benchmark and the soak, those asked for, each on a
// server of its own: the soak compares the server's memory with its own warm-up, which the
// adversarial requests' grammars would have grown. It returns 2 when it cannot run at all.
func (b *bench) runModes(ctx context.Context) int {
	cfg := &b.cfg
	type mode struct {
		on   bool
		tag  string
		body func(context.Context, *server)
	}
	for _, m := range []mode{{cfg.adversarial, "adversarial", b.adversarialRun}, {cfg.soak > 0, "soak", b.soakRun}} {
		if !m.on || ctx.Err() != nil {
			continue
		}
		srv, err := b.serverFor(ctx, m.tag)
		if err != nil {
			logf("%v", err)
			return 2
		}
		if err := b.warmUp(ctx, srv); err != nil {
			logf("%s: warm-up: %v", m.tag, err)
			if err := srv.stop(); err != nil {
				b.failf("%v", err)
			}
			return 2
		}
		m.body(ctx, srv)
		if srv.cmd == nil {
			continue
		}
		if err := srv.stop(); err != nil {
			b.failf("%v", err)
		}
		if log, err := os.ReadFile(srv.log); err == nil && bytes.Contains(bytes.ToLower(log), []byte("panic")) {
			b.failf("%s: the server log mentions a panic:\n%s", m.tag, tail(srv.log, 20))
		}
	}
	return 0
}

// serverFor starts a server for a mode (or names the one given by --url) and reports it.
func (b *bench) serverFor(ctx context.Context, tag string) (*server, error) {
	cfg := &b.cfg
	if cfg.url != "" {
		name, err := firstModel(ctx, b.mc, cfg.url)
		if err != nil {
			return nil, err
		}
		return &server{url: cfg.url, name: name}, nil
	}
	srv, err := startServer(ctx, b.mc, cfg.arbor, b.dir, tag, b.serverArgs(cfg.ctxLen, cfg.kvPages, 64, 256))
	if err != nil {
		return nil, err
	}
	b.printf("Server for the %s run: `arbor %s`\n\n", tag, strings.Join(displayArgs(srv.args), " "))
	return srv, nil
}

// smallSchemaFormat is the response_format of the warm-up's and the soak's structured-output
// requests: a small object.
var smallSchemaFormat = json.RawMessage(`{"type":"json_schema","json_schema":{"name":"person","strict":true,"schema":` +
	`{"type":"object","properties":{"name":{"type":"string","maxLength":16},` +
	`"age":{"type":"integer","minimum":0,"maximum":150},` +
	`"tags":{"type":"array","items":{"enum":["red","green","blue"]},"maxItems":3}},` +
	`"required":["name","age","tags"],"additionalProperties":false}}}`)

// warmUp pages the weights in and pays the server's one-time costs before anything is
// measured: two plain requests, and one with a small JSON schema (the first structured-output
// request builds the grammar's view of the vocabulary).
func (b *bench) warmUp(ctx context.Context, srv *server) error {
	for i := 0; i < 2; i++ {
		if r := streamChat(ctx, b.hc, srv.url, b.request(srv.name, -1, i), 0); r.outcome != outcomeOK {
			return fmt.Errorf("plain request: %s", r.err)
		}
	}
	req := b.request(srv.name, -1, 2)
	req.ResponseFormat = smallSchemaFormat
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if r := postChat(ctx, b.hc, srv.url, body); r.status != 200 || r.err != "" {
		return fmt.Errorf("structured-output request: HTTP %d: %s", r.status, r.err)
	}
	return nil
}

// prepare finds or builds arbor and makes the model.
func (b *bench) prepare(ctx context.Context) error {
	cfg := &b.cfg
	if cfg.arbor == "" {
		cfg.arbor = filepath.Join(b.dir, "arbor")
		logf("building arbor into %s", cfg.arbor)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", cfg.arbor, "github.com/arborlabs/arbor/cmd/arbor")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/arbor: %w (or pass --arbor PATH)", err)
		}
	}
	if cfg.model == "" && cfg.url == "" {
		cfg.model = filepath.Join(b.dir, cfg.shape+"-"+cfg.dtype+".gguf")
		cmd := exec.CommandContext(ctx, cfg.arbor, "model", "new", "--shape", cfg.shape, "--dtype", cfg.dtype,
			"--seed", "1", "--out", cfg.model)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("arbor model new: %w: %s", err, strings.TrimSpace(out.String()))
		}
		logf("%s", strings.TrimSpace(out.String()))
	}
	return nil
}

func (b *bench) describe() string {
	cfg := &b.cfg
	var model string
	switch {
	case cfg.url != "":
		model = "the server at " + cfg.url
	case strings.HasPrefix(filepath.Base(cfg.model), cfg.shape+"-"+cfg.dtype) && filepath.Dir(cfg.model) == b.dir:
		model = fmt.Sprintf("random weights of the `%s` shape (%s, `arbor model new --seed 1`; the Qwen3 "+
			"tokenizer unless the shape says otherwise)", cfg.shape, cfg.dtype)
	default:
		model = "`" + cfg.model + "`"
	}
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("Model: %s. Machine: %d CPUs (%s/%s), load average %s at the start (the machine is "+
		"shared: other processes compete for the cores). %s.",
		model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, load, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
}

func (b *bench) serverArgs(ctxLen, kvPages, maxSeqs, maxQueue int) []string {
	return []string{"--model", b.cfg.model, "--threads", strconv.Itoa(b.cfg.threads), "--ctx", strconv.Itoa(ctxLen),
		"--kv-pages", strconv.Itoa(kvPages), "--max-seqs", strconv.Itoa(maxSeqs), "--max-queue", strconv.Itoa(maxQueue)}
}

// displayArgs shortens the temporary model path for the report.
func displayArgs(args []string) []string {
	out := slices.Clone(args)
	for i := range out {
		if i > 0 && out[i-1] == "--model" && strings.Contains(out[i], "arbor-load-") {
			out[i] = filepath.Base(out[i])
		}
	}
	return out
}

// request is client c's request number i (c < 0: warm-up). Every prompt is different, with a
// seed of its own, so runs are repeatable and no two requests share more than the template.
func (b *bench) request(model string, c, i int) chatRequest {
	seed := int64(c)*100003 + int64(i)
	w := func(k int) string { return words[(k%len(words)+len(words))%len(words)] }
	return chatRequest{
		Model: model,
		Messages: []chatMessage{{Role: "user", Content: fmt.Sprintf(
			"Client %d, request %d: write a short story about a %s %s near the %s.", c, i,
			w(c*7+i), w(c*13+i*3+5), w(c+i*11+17))}},
		MaxTokens:   b.cfg.maxTokens,
		Temperature: b.cfg.temp,
		Seed:        &seed,
	}
}

// requests is b.request for model, as drive takes it.
func (b *bench) requests(model string) func(c, i int) chatRequest {
	return func(c, i int) chatRequest { return b.request(model, c, i) }
}

// levelStats aggregates one concurrency's requests.
type levelStats struct {
	clients                 int
	ok, errors, rejected    int
	abandoned               int
	tokens                  int
	lengthStops, otherStops int
	wall                    time.Duration
	serverCPU, clientCPU    time.Duration // CPU time used during the run; -1 unknown
	ttft, itl, e2e          []time.Duration
	firstErrors             []string
}

func (s *levelStats) add(r result) {
	switch r.outcome {
	case outcomeOK:
		s.ok++
		s.tokens += r.completionTokens
		if r.finish == "length" {
			s.lengthStops++
		} else {
			s.otherStops++
		}
		if r.chunks > 0 {
			s.ttft = append(s.ttft, r.ttft)
		}
		s.itl = append(s.itl, r.itls...)
		s.e2e = append(s.e2e, r.e2e)
	case outcomeRejected:
		s.rejected++
	case outcomeAbandoned:
		s.abandoned++
	default:
		s.errors++
		if len(s.firstErrors) < 5 {
			s.firstErrors = append(s.firstErrors, r.err)
		}
	}
}

// cores is CPU time over the run's wall time: how many cores a process kept busy on average.
func (s *levelStats) cores(cpu time.Duration) string {
	if cpu < 0 || s.wall <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", cpu.Seconds()/s.wall.Seconds())
}

func (s *levelStats) throughput() float64 {
	if s.wall <= 0 {
		return 0
	}
	return float64(s.tokens) / s.wall.Seconds()
}

// drive runs n clients, each sending requests back to back until the deadline (at least one
// each) or the per-client limit; req(c, i) is client c's request number i. A 429 makes the
// client wait the Retry-After (at most 2 s) before its next request. abandonEvery > 0 makes
// every such request hang up early.
func (b *bench) drive(ctx context.Context, srv *server, n int, dur time.Duration, perClient, abandonEvery int,
	req func(c, i int) chatRequest) *levelStats {
	st := &levelStats{clients: n}
	var mu sync.Mutex
	var wg sync.WaitGroup
	cpu0, self0 := procCPU(srv.pid()), selfCPU()
	start := time.Now()
	deadline := start.Add(dur)
	var last time.Time
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ { // bounded; the deadline ends it long before
				if i > 0 && (time.Now().After(deadline) || (perClient > 0 && i >= perClient)) {
					return
				}
				if ctx.Err() != nil {
					return
				}
				abandon := 0
				if abandonEvery > 0 && i%abandonEvery == abandonEvery-1 {
					abandon = 3
				}
				rctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
				r := streamChat(rctx, b.hc, srv.url, req(c, i), abandon)
				cancel()
				mu.Lock()
				st.add(r)
				if r.end.After(last) {
					last = r.end
				}
				mu.Unlock()
				if r.outcome == outcomeRejected {
					select {
					case <-time.After(min(max(r.retryAfter, 50*time.Millisecond), 2*time.Second)):
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	st.wall = last.Sub(start)
	st.serverCPU, st.clientCPU = -1, -1
	if cpu1 := procCPU(srv.pid()); cpu0 >= 0 && cpu1 >= 0 {
		st.serverCPU = cpu1 - cpu0
	}
	if self1 := selfCPU(); self0 >= 0 && self1 >= 0 {
		st.clientCPU = self1 - self0
	}
	return st
}

func (b *bench) loadRun(ctx context.Context, srv *server) {
	cfg := &b.cfg
	var levels []*levelStats
	for _, n := range cfg.clients {
		if ctx.Err() != nil {
			return
		}
		logf("%d client(s) for %s...", n, cfg.duration)
		st := b.drive(ctx, srv, n, cfg.duration, cfg.requests, 0, b.requests(srv.name))
		logf("  %d requests, %d errors, %d 429s, %.1f tokens/s over %s", st.ok, st.errors, st.rejected,
			st.throughput(), st.wall.Round(time.Millisecond))
		for _, e := range st.firstErrors {
			logf("  error: %s", e)
		}
		levels = append(levels, st)
	}
	b.printf("### Streaming clients\n\n")
	b.printf("Each client sends streaming chat completions back to back for %s (max_tokens %d, temperature "+
		"%g); ", cfg.duration, cfg.maxTokens, cfg.temp)
	b.printf("throughput is completion tokens (from usage) over the wall time until the last request ended; " +
		"times in ms; ")
	b.printf("server and bench CPU: the cores each process kept busy on average.\n\n")
	b.printf("| clients | requests | errors | 429s | tok/s | gain | TTFT p50 | TTFT p99 | ITL p50 | ITL p99 | " +
		"E2E p50 | E2E p99 | server CPU | bench CPU |\n")
	b.printf("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var base float64
	for i, st := range levels {
		tp := st.throughput()
		if i == 0 {
			base = tp
		}
		gain := "-"
		if base > 0 {
			gain = fmt.Sprintf("%.2fx", tp/base)
		}
		b.printf("| %d | %d | %d | %d | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", st.clients,
			st.ok, st.errors, st.rejected, tp, gain,
			ms(pct(st.ttft, 50)), ms(pct(st.ttft, 99)), ms(pct(st.itl, 50)), ms(pct(st.itl, 99)),
			ms(pct(st.e2e, 50)), ms(pct(st.e2e, 99)),
			st.cores(st.serverCPU), st.cores(st.clientCPU))
	}
	b.printf("\n")
	var stops, other, errs int
	for _, st := range levels {
		stops += st.lengthStops
		other += st.otherStops
		errs += st.errors
	}
	b.printf("Finish reasons: %d length (max_tokens reached), %d other (an end token sampled).", stops, other)
	if len(levels) > 0 && levels[0].clients != 1 {
		b.printf(" Gain is over the first row (%d clients).", levels[0].clients)
	}
	b.printf("\n\n")
	if errs > 0 {
		b.failf("%d request(s) failed in the load runs (first: %s)", errs, firstErr(levels))
	}
}

func firstErr(levels []*levelStats) string {
	for _, st := range levels {
		if len(st.firstErrors) > 0 {
			return st.firstErrors[0]
		}
	}
	return "?"
}

// prefixRun measures, for each repetition, a cold request with a fresh ~1,000-token system
// prompt and then a warm one with the same system prompt and another user message.
func (b *bench) prefixRun(ctx context.Context, srv *server) {
	cfg := &b.cfg
	type pair struct {
		prefix     int
		cold, warm result
	}
	var pairs []pair
	var ratios []float64
	tokModel := cfg.model
	// rep -1 is a warm-up pair, not reported: the first long prompt of a server's life pays for
	// allocations that later ones do not.
	for rep := -1; rep < cfg.prefixReps && ctx.Err() == nil; rep++ {
		text, count, err := sizedPrefix(ctx, cfg.arbor, tokModel, uint64(1000+rep), cfg.prefixTokens, 8)
		if err != nil {
			b.failf("prefix run: %v", err)
			return
		}
		req := func(q string) chatRequest {
			seed := int64(rep)
			return chatRequest{Model: srv.name, Messages: []chatMessage{{Role: "system", Content: text},
				{Role: "user", Content: q}},
				MaxTokens: 4, Temperature: cfg.temp, Seed: &seed}
		}
		cold := streamChat(ctx, b.hc, srv.url, req(fmt.Sprintf("Question %d: what do the notes say about the "+
			"river?", rep)), 0)
		warm := streamChat(ctx, b.hc, srv.url, req(fmt.Sprintf("Question %d, another one: summarise the notes "+
			"about the harbor and the bridge.", rep)), 0)
		for _, r := range []result{cold, warm} {
			if r.outcome != outcomeOK || r.chunks == 0 {
				b.failf("prefix run: request failed: %s (%d deltas)", r.err, r.chunks)
				return
			}
		}
		ratio := float64(cold.ttft) / float64(warm.ttft)
		if rep < 0 {
			continue
		}
		logf("prefix %d: %d tokens; TTFT cold %s, warm %s: %.1fx (cached tokens %d, %d)", rep, count,
			cold.ttft.Round(time.Microsecond), warm.ttft.Round(time.Microsecond), ratio,
			cold.cachedTokens, warm.cachedTokens)
		pairs = append(pairs, pair{count, cold, warm})
		ratios = append(ratios, ratio)
	}
	if len(ratios) == 0 {
		return
	}
	med := median(ratios)
	b.printf("### Prefix caching\n\n")
	counter := "`arbor tokenize --model` with the served model"
	if tokModel == "" {
		counter = "`arbor tokenize` with the built-in Qwen3 tokenizer; the server's may differ"
	}
	b.printf("Each row: a new system prompt of about %d tokens (counted by %s), then two requests in a row "+
		"that share it, ", cfg.prefixTokens, counter)
	b.printf("with different user messages (max_tokens 4). Cold: the first (nothing cached); warm: the second. " +
		"Times in ms.\n\n")
	b.printf("| run | prefix tokens | prompt tokens (cold / warm) | cached tokens (cold / warm) | TTFT cold | " +
		"TTFT warm | ratio |\n")
	b.printf("|--:|--:|--:|--:|--:|--:|--:|\n")
	for i, p := range pairs {
		b.printf("| %d | %d | %d / %d | %s / %s | %s | %s | %.1fx |\n", i+1, p.prefix, p.cold.promptTokens,
			p.warm.promptTokens,
			cached(p.cold.cachedTokens), cached(p.warm.cachedTokens), ms(p.cold.ttft), ms(p.warm.ttft), ratios[i])
	}
	verdict := "meets"
	if med < 5 {
		verdict = "misses"
	}
	b.printf("\nMedian cold/warm TTFT ratio: **%.1fx** (%s the goal of 5x).\n\n", med, verdict)
	if cfg.minRatio > 0 && med < cfg.minRatio {
		b.failf("median prefix-cache TTFT ratio %.1fx < %.1fx", med, cfg.minRatio)
	}
}

func cached(n int) string {
	if n < 0 {
		return "n/a"
	}
	return strconv.Itoa(n)
}

// pressureRun starts a server with a small queue and batch, runs many clients against it (some
// hanging up mid-stream), and checks that only 429s failed and that the server returns to idle.
func (b *bench) pressureRun(ctx context.Context) {
	cfg := &b.cfg
	pageTokens := cfg.pressureKVPages * 16
	srv, err := startServer(ctx, b.mc, cfg.arbor, b.dir, "pressure",
		b.serverArgs(min(cfg.ctxLen, pageTokens), cfg.pressureKVPages, cfg.pressureSeqs, cfg.pressureQueue))
	if err != nil {
		b.failf("pressure server: %v", err)
		return
	}
	defer func() {
		if err := srv.stop(); err != nil {
			b.failf("%v", err)
		}
	}()
	b.printf("### Pressure\n\nServer: `arbor %s`. %d clients for %s, each request max_tokens %d; ",
		strings.Join(displayArgs(srv.args), " "),
		cfg.pressureClients, cfg.pressureDuration, cfg.maxTokens)
	if cfg.abandonEvery > 0 {
		b.printf("every %s request of a client hangs up after 3 deltas; ", ordinal(cfg.abandonEvery))
	}
	b.printf("a 429 makes a client wait its Retry-After (at most 2 s). Peaks come from scraping /metrics every " +
		"200 ms; ")
	b.printf("waiting may exceed --max-queue by up to --max-seqs, as preempted sequences (KV pages full) go " +
		"back to the queue.\n\n")

	if r := streamChat(ctx, b.hc, srv.url, b.request(srv.name, -1, 0), 0); r.outcome != outcomeOK {
		b.failf("pressure warm-up request failed: %s", r.err)
		return
	}
	b.hc.CloseIdleConnections()
	time.Sleep(300 * time.Millisecond)
	baseMetrics, err := scrape(ctx, b.mc, srv.url)
	if err != nil {
		b.failf("pressure: /metrics: %v", err)
		return
	}
	time.Sleep(200 * time.Millisecond)
	baseProc, procErr := readProc(srv.pid())

	// Watch the gauges during the run: the queue and the batch must stay within their limits.
	var peakRun, peakWait, peakKV float64
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for watchCtx.Err() == nil {
			if m, err := scrape(watchCtx, b.mc, srv.url); err == nil {
				peakRun = max(peakRun, m["arbor:num_requests_running"])
				peakWait = max(peakWait, m["arbor:num_requests_waiting"])
				peakKV = max(peakKV, m["arbor:kv_cache_usage_perc"])
			}
			select {
			case <-watchCtx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	logf("pressure: %d clients for %s...", cfg.pressureClients, cfg.pressureDuration)
	st := b.drive(ctx, srv, cfg.pressureClients, cfg.pressureDuration, 0, cfg.abandonEvery, b.requests(srv.name))
	stopWatch()
	<-watchDone
	logf("  %d completed, %d abandoned, %d 429s, %d errors", st.ok, st.abandoned, st.rejected, st.errors)

	b.printf("| clients | completed | hung up | 429s (with Retry-After) | other errors | tok/s | TTFT p50 | " +
		"TTFT p99 | peak running | peak waiting | peak KV use |\n")
	b.printf("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	b.printf("| %d | %d | %d | %d | %d | %.1f | %s | %s | %.0f | %.0f | %.0f%% |\n\n", st.clients, st.ok,
		st.abandoned, st.rejected, st.errors,
		st.throughput(), ms(pct(st.ttft, 50)), ms(pct(st.ttft, 99)), peakRun, peakWait, 100*peakKV)
	if st.errors > 0 {
		b.failf("pressure: %d error(s) other than 429 with Retry-After; first: %s", st.errors,
			strings.Join(st.firstErrors, " | "))
	}
	if st.rejected == 0 {
		b.failf("pressure: no 429 at all: the queue limit (%d) was never reached, so the run proved nothing",
			cfg.pressureQueue)
	}
	if peakRun > float64(cfg.pressureSeqs) {
		b.failf("pressure: %v requests running at once, over --max-seqs %d", peakRun, cfg.pressureSeqs)
	}
	// Preempted sequences go back to the head of the queue (as in vLLM), so up to --max-seqs more
	// than --max-queue may wait at once; new requests beyond --max-queue get 429s.
	if peakWait > float64(cfg.pressureQueue+cfg.pressureSeqs) {
		b.failf("pressure: %v requests waiting at once, over --max-queue %d + --max-seqs %d (preempted)",
			peakWait, cfg.pressureQueue, cfg.pressureSeqs)
	}

	b.hc.CloseIdleConnections()
	var base *procStats
	if procErr == nil {
		base = &baseProc
	}
	b.printf("After the load: %s\n\n", b.waitIdle(ctx, srv, base, baseMetrics["go_goroutines"]))
	if log, err := os.ReadFile(srv.log); err == nil && bytes.Contains(bytes.ToLower(log), []byte("panic")) {
		b.failf("pressure: the server log mentions a panic:\n%s", tail(srv.log, 20))
	}
}

// waitIdle polls /metrics (and /proc for a started server) until the server is idle or the idle
// timeout passes, and describes the final state; a server still busy is a failed check.
// baseFDs compares open descriptors with a baseline; baseGoroutines (if > 0) go_goroutines.
func (b *bench) waitIdle(ctx context.Context, srv *server, base *procStats, baseGoroutines float64) string {
	deadline := time.Now().Add(b.cfg.idleTimeout)
	start := time.Now()
	var m metricsSample
	var ps procStats
	var procErr error
	var problems []string
	for {
		var err error
		m, err = scrape(ctx, b.mc, srv.url)
		problems = problems[:0]
		if err != nil {
			problems = append(problems, "/metrics: "+err.Error())
		} else {
			for _, g := range []string{"arbor:num_requests_running", "arbor:num_requests_waiting",
				"arbor:kv_cache_usage_perc"} {
				v, ok := m[g]
				if !ok {
					problems = append(problems, g+" missing")
				} else if v != 0 {
					problems = append(problems, fmt.Sprintf("%s %g", g, v))
				}
			}
			if g, ok := m["go_goroutines"]; ok && baseGoroutines > 0 && g > baseGoroutines {
				problems = append(problems, fmt.Sprintf("go_goroutines %g > %g before", g, baseGoroutines))
			}
		}
		if base != nil {
			time.Sleep(100 * time.Millisecond) // let the server see the scrape's connection close
			ps, procErr = readProc(srv.pid())
			if procErr == nil && ps.fds > base.fds {
				problems = append(problems, fmt.Sprintf("%d open file descriptors > %d before", ps.fds, base.fds))
			}
		}
		if len(problems) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var parts []string
	for _, g := range []string{"arbor:num_requests_running", "arbor:num_requests_waiting",
		"arbor:kv_cache_usage_perc"} {
		if v, ok := m[g]; ok {
			parts = append(parts, fmt.Sprintf("`%s` %g", g, v))
		}
	}
	if g, ok := m["go_goroutines"]; ok {
		parts = append(parts, fmt.Sprintf("`go_goroutines` %g (before: %g)", g, baseGoroutines))
	} else {
		parts = append(parts, "goroutines: not exported (/metrics has no `go_goroutines`)")
	}
	if base != nil && procErr == nil {
		parts = append(parts, fmt.Sprintf("open file descriptors %d (before: %d), OS threads %d (before: %d; "+
			"Go keeps idle threads, so informational)",
			ps.fds, base.fds, ps.threads, base.threads))
	}
	if v, ok := m["arbor:prefix_cache_hits_total"]; ok {
		parts = append(parts, fmt.Sprintf("prefix cache %g of %g prompt tokens hit", v,
			m["arbor:prefix_cache_queries_total"]))
	}
	verdict := fmt.Sprintf("idle after %s", time.Since(start).Round(10*time.Millisecond))
	if len(problems) > 0 {
		verdict = "NOT idle: " + strings.Join(problems, ", ")
		b.failf("server not idle %s after the load: %s", b.cfg.idleTimeout, strings.Join(problems, ", "))
	}
	return verdict + "; " + strings.Join(parts, ", ") + "."
}

func ordinal(n int) string {
	switch n {
	case 1:
		return "1st"
	case 2:
		return "2nd"
	case 3:
		return "3rd"
	}
	return strconv.Itoa(n) + "th"
}

// pct is the p-th percentile (nearest rank) of ds; -1 when ds is empty.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ms formats a duration in milliseconds for the tables; "-" for none.
func ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}
