package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/arborlabs/arbor/memory"
	"github.com/arborlabs/arbor/memory/compact"
	"github.com/arborlabs/arbor/memory/embed"
	"github.com/arborlabs/arbor/memory/session"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/server"
	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/calc"
	"github.com/arborlabs/arbor/tools/httptool"
	"github.com/arborlabs/arbor/tools/toolconfig"
	"github.com/arborlabs/arbor/tree"
)

// stringList is a repeatable string flag (--api-key A --api-key B).
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func cmdServe(args []string, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stderr, nil)
}

// serve runs the server until ctx ends (a signal), then shuts down gracefully. onListen, if not
// nil, is told the address once the listener is up (tests listen on port 0).
func serve(ctx context.Context, args []string, stderr io.Writer, onListen func(addr string)) error {
	fs := newFlags("serve", stderr)
	modelPath := fs.String("model", "", "model: a Hugging Face directory or a .gguf file (default: the "+
		"built-in demo model)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on, HOST:PORT")
	var keys stringList
	fs.Var(&keys, "api-key", "accept this API key (Authorization: Bearer KEY); repeatable; also "+
		"$ARBOR_API_KEY. None: no auth")
	servedName := fs.String("served-model-name", "",
		"the model id clients send and /v1/models lists (default: the model's file or directory name, or arbor-demo)")
	maxQueue := fs.Int("max-queue", 256, "requests waiting for admission at most; beyond, 429 with Retry-After")
	maxSeqs := fs.Int("max-seqs", 64, "sequences running in one batch at most")
	ctxLen := fs.Int("ctx", 4096, "the most tokens (prompt and generated) one sequence may hold")
	kvPages := fs.Int("kv-pages", 0, "KV cache pages of 16 tokens shared by all sequences (0: room for 4 full "+
		"contexts)")
	threads := fs.Int("threads", 0, "worker threads (0: all cores)")
	backendKind := fs.String("backend", "cpu", backendHelp)
	stepTokens := fs.Int("step-tokens", 512, "tokens in one forward step at most (the prefill chunk size)")
	maxBody := fs.Int64("max-body", server.DefaultMaxBodyBytes, "request bodies larger than this many bytes get 413")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second,
		"on SIGTERM, how long running requests may finish before they are cancelled")
	chatTemplate := fs.String("chat-template", "", "a Jinja chat template file to use instead of the model's own")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	specialsInContent := fs.Bool("special-tokens-in-content", false, "read special-token text in chat messages "+
		"(<|im_end|> and the like) as control tokens, like the chat template's markup; by default it is plain text")
	treeDefault := fs.Bool("tree", false, "task-tree decoding for every chat request (TIMRUN's default for TIM "+
		"models; on by default for the built-in demo model); a request may still ask for reasoning_format \"text\"")
	treeMaxText := fs.Int("tree-max-text", 0, "in tree mode, bound each thought, conclusion and answer to this "+
		"many characters (0: unbounded; the built-in demo model's default is "+strconv.Itoa(demo.TreeMaxTextChars)+
		"); a request's reasoning_format.max_text_chars overrides it")
	var toolHosts stringList
	fs.Var(&toolHosts, "allow-tool-host", "HOST or HOST:PORT that tools declared in a request (with a url) may "+
		"reach; repeatable. None: such tools are refused")
	metricsKey := fs.String("metrics-key", "", "require this key (Authorization: Bearer KEY) for /metrics; "+
		"also $ARBOR_METRICS_KEY. None: /metrics is open")
	var corsOrigins stringList
	fs.Var(&corsOrigins, "cors-origin", "let browser pages from this origin (scheme://host[:port], or * for "+
		"any) call the API; repeatable. None: no CORS headers")
	toolsConfig := fs.String("tools-config", "", "a JSON file of the operator's tools: HTTP tools and MCP "+
		"servers (see the README)")
	toolCache := fs.Int("tool-cache", 1024, "tool results kept across requests, keyed by tool and arguments "+
		"(0: per request only)")
	toolCacheTTL := fs.Duration("tool-cache-ttl", 10*time.Minute, "how long a cached tool result stays valid")
	embURL := fs.String("embeddings-url", "", "answer /v1/embeddings with this OpenAI-compatible endpoint's "+
		"embeddings (its base URL, e.g. http://host:8000/v1; the key from $OPENAI_API_KEY) instead of the "+
		"built-in hashed n-gram embedder")
	embModel := fs.String("embeddings-model", "", "the model to ask --embeddings-url for")
	embedderKind := fs.String("embedder", "hashed", "what embeds sessions' messages and answers /v1/embeddings: "+
		"hashed (built-in word and character n-grams, model-free), model (the served model's mean-pooled "+
		"hidden states; the cpu backend) or remote (--embeddings-url, which implies it)")
	memoryMode := fs.String("memory", "on", "session memory: on (chat requests naming a session_id get its "+
		"summary, retrieved messages and last turns, and their turns are stored) or off")
	dataDir := fs.String("data-dir", "", "the memory store's directory (default: $XDG_DATA_HOME/arbor, or "+
		"~/.local/share/arbor); one server at a time may hold it")
	summarizer := fs.String("memory-summarizer", "auto", "who keeps sessions' running summaries: model (the "+
		"served model, as a background request), extractive (model-free: the sentences with the most specific "+
		"content), or auto (extractive with the demo model, which can only do arithmetic; model otherwise)")
	memBudget := fs.Int("memory-budget", server.DefaultMemoryBudget, "the most prompt tokens a session request "+
		"is given (system, summary, retrieved messages, last turns, new message); never above the context "+
		"less max_tokens")
	long := addLongContextFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := long.check(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// The built-in demo model was trained to answer in task trees with the calculator: tree
	// mode is its default unless the command line says otherwise.
	if *modelPath == "" && !flagGiven(fs, "tree") {
		*treeDefault = true
	}
	if *modelPath == "" && !flagGiven(fs, "tree-max-text") {
		*treeMaxText = demo.TreeMaxTextChars
	}
	if *treeMaxText < 0 || *treeMaxText > tree.MaxTextChars {
		return fmt.Errorf("serve: --tree-max-text must be between 0 and %d, got %d", tree.MaxTextChars, *treeMaxText)
	}
	var embedder embed.Embedder
	var modelEmbedder *server.ModelEmbedder
	switch *embedderKind {
	case "hashed", "remote":
	case "model":
		if *embURL != "" {
			return errors.New("serve: --embedder model and --embeddings-url: choose one")
		}
		modelEmbedder = &server.ModelEmbedder{}
		embedder = modelEmbedder
	default:
		return fmt.Errorf("serve: --embedder must be hashed, model or remote, got %q", *embedderKind)
	}
	if *embedderKind == "remote" && *embURL == "" {
		return errors.New("serve: --embedder remote needs --embeddings-url")
	}
	if *embURL != "" {
		r, err := embed.NewRemote(embed.RemoteConfig{BaseURL: *embURL, Model: *embModel, APIKey: os.Getenv("OPENAI_API_KEY")})
		if err != nil {
			return fmt.Errorf("serve: --embeddings-url: %w", err)
		}
		embedder = r
	} else if *embModel != "" {
		return errors.New("serve: --embeddings-model needs --embeddings-url")
	}
	if *memoryMode != "on" && *memoryMode != "off" {
		return fmt.Errorf("serve: --memory must be on or off, got %q", *memoryMode)
	}
	switch *summarizer {
	case "auto", "model", "extractive":
	default:
		return fmt.Errorf("serve: --memory-summarizer must be auto, model or extractive, got %q", *summarizer)
	}
	if *memBudget < 1 {
		return errors.New("serve: --memory-budget must be positive")
	}
	if k := os.Getenv("ARBOR_API_KEY"); k != "" {
		keys = append(keys, k)
	}
	if *metricsKey == "" {
		*metricsKey = os.Getenv("ARBOR_METRICS_KEY")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("serve: --log-level: %w", err)
	}
	if *ctxLen < 2 || *maxQueue < 1 || *maxSeqs < 1 || *kvPages < 0 || *stepTokens < 1 || *maxBody < 1 {
		return errors.New("serve: --ctx, --max-queue, --max-seqs, --step-tokens and --max-body must be " +
			"positive, --kv-pages not negative")
	}
	for _, o := range corsOrigins {
		if err := server.CheckCORSOrigin(o); err != nil {
			return fmt.Errorf("serve: --cors-origin: %w", err)
		}
	}
	var template string
	if *chatTemplate != "" {
		b, err := os.ReadFile(*chatTemplate)
		if err != nil {
			return fmt.Errorf("serve: --chat-template: %w", err)
		}
		template = string(b)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	var mem *session.Manager
	var modelSummarizer *server.ModelSummarizer
	if *memoryMode == "on" {
		var summ compact.Summarizer = &compact.Extractive{}
		if *summarizer == "model" || (*summarizer == "auto" && *modelPath != "") {
			modelSummarizer = &server.ModelSummarizer{Fallback: summ}
			summ = modelSummarizer
		}
		m, closeMem, err := openMemory(*dataDir, embedder, summ, log)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		defer closeMem()
		mem = m
		embedder = m.Embedder()
	}
	treeOpt, closeTools, err := treeOptions(ctx, *treeDefault, toolHosts, *toolsConfig, *toolCache, *toolCacheTTL)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	treeOpt.MaxTextChars = *treeMaxText
	defer closeTools()
	log.Info("task trees", "default", *treeDefault, "tools", len(treeOpt.Tools), "allowed_hosts", []string(toolHosts))

	// Listen before loading: the port answers at once (/health 503 until the model is ready), so
	// orchestrators see a live process and wait for readiness instead of restarting it.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	srv := server.New(server.Options{APIKeys: keys, MaxBodyBytes: *maxBody, Logger: log, Tree: treeOpt,
		SpecialTokensInContent: *specialsInContent, CORSOrigins: corsOrigins, MetricsKey: *metricsKey,
		Embedder: embedder, Memory: mem, MemoryBudget: *memBudget, Summarizer: modelSummarizer, ModelEmbedder: modelEmbedder})
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "auth", len(keys) > 0)
	if onListen != nil {
		onListen(ln.Addr().String())
	}

	type loaded struct {
		eng     *engine.Engine
		cleanup func()
		err     error
	}
	loadDone := make(chan loaded, 1)
	go func() {
		eng, cleanup, err := loadEngine(log, srv, *modelPath, *servedName, template, *backendKind, *threads,
			*ctxLen, *kvPages, *maxSeqs, *maxQueue, *stepTokens, long)
		loadDone <- loaded{eng, cleanup, err}
	}()
	var ld loaded
	select {
	case ld = <-loadDone:
		if ld.err != nil {
			_ = hs.Close()
			return ld.err
		}
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		log.Info("signal received while loading: exiting")
		_ = hs.Close()
		if ld = <-loadDone; ld.cleanup != nil {
			ld.cleanup()
		}
		return nil
	}
	defer ld.cleanup()
	if modelEmbedder != nil && !ld.eng.CanEmbed() {
		_ = hs.Close()
		return fmt.Errorf("serve: --embedder model: the %s backend does not compute embeddings; use the cpu "+
			"backend, or another --embedder", *backendKind)
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Graceful shutdown: refuse new work (503), let what runs finish within the timeout (then
	// cancel it), and close the listener once every handler has written its last byte.
	log.Info("shutting down", "timeout", shutdownTimeout.String(), "running", ld.eng.Stats().Running,
		"waiting", ld.eng.Stats().Waiting)
	dctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Drain(dctx); err != nil {
		log.Warn("requests cancelled at the shutdown timeout", "err", err)
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer hcancel()
	if err := hs.Shutdown(hctx); err != nil {
		log.Warn("closing connections", "err", err)
		_ = hs.Close()
	}
	log.Info("stopped")
	return nil
}

// loadEngine loads the model, starts its engine and hands it to the server. cleanup frees the
// engine, the backend and the model. The sparse-attention flags are checked against the model
// here, once its layer count is known.
func loadEngine(log *slog.Logger, srv *server.Server, path, name, template, backendKind string, threads,
	ctxLen, kvPages, maxSeqs, maxQueue, stepTokens int, long *longContextFlags) (*engine.Engine, func(), error) {
	start := time.Now()
	demoModel := path == ""
	if demoModel {
		log.Info("no --model given: serving the built-in demo model (" + demoDescription + ")")
	}
	m, err := loadModel(path, io.Discard)
	if err != nil {
		return nil, nil, fmt.Errorf("serve: %w", err)
	}
	sparseCfg, err := long.sparseConfig(m.Config.NumLayers)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("serve: %w", err)
	}
	const pageSize = 16
	if kvPages == 0 {
		kvPages = 4 * ((ctxLen + pageSize - 1) / pageSize)
	}
	be, err := newBackend(backendKind, m, threads, pageSize, kvPages, long.kv)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("serve: backend: %w", err)
	}
	eng := engine.New(be, m.Tokenizer, engine.Options{MaxContext: ctxLen, StepTokens: stepTokens,
		MaxSeqs: maxSeqs, MaxQueue: maxQueue, NumLayers: m.Config.NumLayers})
	cleanup := func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = eng.Shutdown(sctx) // already drained: returns at once
		_ = be.Close()
		m.Close()
	}
	if name == "" {
		name = "arbor-demo"
		if !demoModel {
			name = strings.TrimSuffix(filepath.Base(filepath.Clean(path)), ".gguf")
		}
	}
	if err := srv.Ready(server.FromEngine(eng), server.Model{Name: name, Path: path, Demo: demoModel,
		ChatTemplate: template, Layers: m.Config.NumLayers, HiddenSize: m.Config.HiddenSize, Sparse: sparseCfg}); err != nil {
		cleanup()
		return nil, nil, err
	}
	log.Info("model loaded", "model", name, "path", path, "demo", demoModel, "seconds", time.Since(start).Seconds(),
		"context", eng.MaxContext(), "kv_pages", kvPages, "kv_dtype", long.kv.String(), "sparse",
		describeSparse(sparseCfg), "max_seqs", maxSeqs, "max_queue", maxQueue)
	return eng, cleanup, nil
}

// treeOptions gathers the operator's tools (the built-in calculator, and the HTTP tools and
// MCP servers of a config file) and the task-tree settings. The returned function closes
// the MCP sessions.
func treeOptions(ctx context.Context, def bool, hosts []string, configPath string, cacheSize int,
	ttl time.Duration) (server.TreeOptions, func(), error) {
	opt := server.TreeOptions{Default: def, AllowHosts: hosts, Tools: []tools.Tool{calc.New()}}
	closeAll := func() {}
	for _, h := range hosts {
		if err := httptool.CheckAllowHost(h); err != nil {
			return opt, closeAll, fmt.Errorf("--allow-tool-host: %w", err)
		}
	}
	if configPath != "" {
		cfg, err := toolconfig.Load(configPath)
		if err != nil {
			return opt, closeAll, fmt.Errorf("--tools-config: %w", err)
		}
		ts, err := cfg.Tools(ctx)
		if err != nil {
			_ = cfg.Close()
			return opt, closeAll, fmt.Errorf("--tools-config: %w", err)
		}
		closeAll = func() { _ = cfg.Close() }
		opt.Tools = append(opt.Tools, ts...)
	}
	if _, err := tools.NewSet(opt.Tools...); err != nil {
		closeAll()
		return opt, func() {}, fmt.Errorf("tools: %w (the built-in calculator is always there)", err)
	}
	if cacheSize > 0 {
		opt.Cache = tools.NewCache(cacheSize, ttl)
	}
	return opt, closeAll, nil
}

// openMemory opens the session memory in dir (the default data directory when empty). close
// stops its background work and closes the store.
func openMemory(dir string, embedder embed.Embedder, summ compact.Summarizer, log *slog.Logger) (*session.Manager, func(), error) {
	if dir == "" {
		var err error
		if dir, err = defaultDataDir(); err != nil {
			return nil, nil, fmt.Errorf("--data-dir: %w (give one, or --memory off)", err)
		}
	}
	store, err := memory.OpenBadger(dir, memory.Options{Logger: log})
	if err != nil {
		if errors.Is(err, memory.ErrInUse) {
			return nil, nil, fmt.Errorf("--data-dir %s: another arbor process holds this memory store; give "+
				"this one its own --data-dir, or --memory off: %w", dir, err)
		}
		return nil, nil, fmt.Errorf("--data-dir %s: %w", dir, err)
	}
	m, err := session.New(session.Config{Store: store, Embedder: embedder, Summarizer: summ, Log: log})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	log.Info("memory", "data_dir", dir, "embedder", m.Embedder().Name())
	return m, func() {
		m.Close()
		if err := store.Close(); err != nil {
			log.Warn("closing the memory store", "err", err)
		}
	}, nil
}

// defaultDataDir is $XDG_DATA_HOME/arbor, or ~/.local/share/arbor.
func defaultDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "arbor"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "arbor"), nil
}
