package server

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/arborlabs/arbor/memory"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/server/openai"
)

// Metric names follow vLLM's, under an "arbor:" prefix, so that dashboards built for vLLM work
// with a renamed prefix. Counters carry the "_total" suffix that vLLM's Python client appends on
// exposition (vllm:prompt_tokens_total, vllm:prefix_cache_queries_total, ...). kv_cache_usage_perc
// is a fraction in [0, 1], as vLLM's is despite its name.
//
// Gauges and token counters read engine.Stats at scrape time, so they are always current and
// cost nothing per token; the histograms are observed by the handlers as requests progress.
type metrics struct {
	reg     *prometheus.Registry
	success *prometheus.CounterVec
	ttft    prometheus.Histogram
	itl     prometheus.Histogram
	e2e     prometheus.Histogram
	queue   prometheus.Histogram
	// Task trees: tool calls run inside the decode, by outcome (ok, error, cached), and their
	// durations.
	toolCalls   *prometheus.CounterVec
	toolSeconds prometheus.Histogram
	// Session memory: the retrieval's time per request (embedding the query included), and
	// the rest of what memory adds before generation (reconciling, loading, assembling).
	memoryRetrieval prometheus.Histogram
	memoryOverhead  prometheus.Histogram
	handlerF        echo.HandlerFunc
}

const ns = "arbor:"

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	stats := func() engine.Stats {
		if st := s.state.Load(); st != nil {
			return st.gen.Stats()
		}
		return engine.Stats{}
	}
	gauge := func(name, help string, f func(engine.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + name, Help: help},
			func() float64 { return f(stats()) })
	}
	counter := func(name, help string, f func(engine.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: ns + name, Help: help},
			func() float64 { return f(stats()) })
	}
	hist := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: ns + name, Help: help, Buckets: buckets})
	}
	latency := []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
		20, 40, 80}
	long := []float64{0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920}
	m.success = prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "request_success_total",
		Help: "Finished requests (choices), by finish reason."}, []string{"finished_reason"})
	m.ttft = hist("time_to_first_token_seconds", "Time from arrival to the first generated token.", latency)
	m.itl = hist("inter_token_latency_seconds",
		"Time between two tokens of one stream, as the server receives them.", latency)
	m.e2e = hist("e2e_request_latency_seconds", "Time from arrival to the last token.", long)
	m.queue = hist("request_queue_time_seconds", "Time spent waiting for admission.", long)
	m.toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "tool_calls_total",
		Help: "Tool calls run inside the decode (task trees), by outcome: ok, error or cached."}, []string{"outcome"})
	m.toolSeconds = hist("tool_call_seconds", "Time a tool call took, from parameters complete to result.", latency)
	fast := []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5}
	m.memoryRetrieval = hist("memory_retrieval_seconds",
		"Time a session request's memory retrieval took (embedding the query and the hybrid search).", fast)
	m.memoryOverhead = hist("memory_overhead_seconds",
		"Time session memory added to a request besides retrieval and waiting for the session.", fast)
	if s.opt.Memory != nil {
		m.reg.MustRegister(&memoryCollector{store: s.opt.Memory.Store()})
	}
	m.reg.MustRegister(
		gauge("num_requests_running", "Sequences in the running batch.",
			func(s engine.Stats) float64 { return float64(s.Running) }),
		gauge("num_requests_waiting", "Requests waiting for admission.",
			func(s engine.Stats) float64 { return float64(s.Waiting) }),
		gauge("kv_cache_usage_perc", "Fraction of KV pages in use (0 to 1).", func(s engine.Stats) float64 {
			if s.KVPages == 0 {
				return 0
			}
			return float64(s.KVPagesInUse) / float64(s.KVPages)
		}),
		counter("prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.",
			func(s engine.Stats) float64 { return float64(s.PrefixQueries) }),
		counter("prefix_cache_hits_total", "Prompt tokens found in the prefix cache.",
			func(s engine.Stats) float64 { return float64(s.PrefixHit) }),
		counter("prompt_tokens_total", "Prompt tokens submitted.",
			func(s engine.Stats) float64 { return float64(s.PromptTokens) }),
		counter("generation_tokens_total", "Tokens generated.",
			func(s engine.Stats) float64 { return float64(s.GenTokens) }),
		counter("num_preemptions_total",
			"Sequences preempted (pages freed, recomputed later) because the KV pool ran dry.",
			func(s engine.Stats) float64 { return float64(s.Preemptions) }),
		counter("kv_pruned_tokens_total", "Tokens dropped from the KV cache by task-tree pruning.",
			func(s engine.Stats) float64 { return float64(s.PrunedTokens) }),
		counter("grammar_late_picks_total",
			"Grammar-constrained draws that outlasted their step (their sequence paused while the others stepped on).",
			func(s engine.Stats) float64 { return float64(s.GrammarLatePicks) }),
		counter("forced_tokens_total", "Output tokens written by the runtime (tool results), not sampled.",
			func(s engine.Stats) float64 { return float64(s.ForcedTokens) }),
		// Their ratio is the share of the KV cache decode steps read: 1 under full attention,
		// less where sparse attention skipped pages.
		counter("attention_attended_tokens_total",
			"Context tokens decode steps attended to (averaged over layers; fewer than the context under sparse attention).",
			func(s engine.Stats) float64 { return float64(s.AttendedTokens) }),
		counter("attention_context_tokens_total", "Context tokens decode steps could attend to.",
			func(s engine.Stats) float64 { return float64(s.ContextTokens) }),
		gauge("kv_cache_cached_pages", "KV pages kept for the prefix cache (in use or free).",
			func(s engine.Stats) float64 { return float64(s.KVPagesCached) }),
		gauge("kv_cache_pages_in_use", "KV pages in use (of kv_cache_pages).",
			func(s engine.Stats) float64 { return float64(s.KVPagesInUse) }),
		gauge("kv_cache_pages", "KV pages in the pool.", func(s engine.Stats) float64 { return float64(s.KVPages) }),
		// The bounded caches a hostile client could try to grow, so that their size is seen
		// apart from a leak.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "grammar_mask_cache_bytes",
			Help: "Memory of the process-wide cache of grammar token masks (bounded)."},
			func() float64 { return float64(grammar.MaskCacheSize()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "grammar_schema_cache_nodes",
			Help: "Automaton nodes of the compiled schemas kept for reuse (bounded)."},
			func() float64 { return float64(openai.GrammarCacheNodesInUse()) }),
		// The runtime's own figures (go_goroutines, memory, GC) and the process's (open fds,
		// RSS), so a leak after load shows on the same endpoint.
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.success, m.ttft, m.itl, m.e2e, m.queue, m.toolCalls, m.toolSeconds, m.memoryRetrieval, m.memoryOverhead,
	)
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	m.handlerF = echo.WrapHandler(h)
	return m
}

func (m *metrics) handler(c echo.Context) error { return m.handlerF(c) }

// finished records one finished choice.
func (m *metrics) finished(r *engine.Result, e2eSeconds float64) {
	m.success.WithLabelValues(r.FinishReason).Inc()
	if r.TimeToFirstTokenMS > 0 {
		m.ttft.Observe(r.TimeToFirstTokenMS / 1000)
	}
	m.queue.Observe(r.QueueSeconds)
	m.e2e.Observe(e2eSeconds)
}

// memoryCollector reports the memory store's size, read once per scrape.
type memoryCollector struct{ store memory.Store }

var (
	memSessionsDesc = prometheus.NewDesc(ns+"memory_sessions", "Sessions in the memory store.", nil, nil)
	memChunksDesc   = prometheus.NewDesc(ns+"memory_chunks", "Chunks (embedded messages) in the memory store.", nil, nil)
	memBytesDesc    = prometheus.NewDesc(ns+"memory_store_bytes", "Disk space the memory store takes.", nil, nil)
)

func (mc *memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- memSessionsDesc
	ch <- memChunksDesc
	ch <- memBytesDesc
}

func (mc *memoryCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := mc.store.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(memSessionsDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(memSessionsDesc, prometheus.GaugeValue, float64(st.Sessions))
	ch <- prometheus.MustNewConstMetric(memChunksDesc, prometheus.GaugeValue, float64(st.Chunks))
	ch <- prometheus.MustNewConstMetric(memBytesDesc, prometheus.GaugeValue, float64(st.DiskBytes))
}
