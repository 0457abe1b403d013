// Package xla is the start of the accelerator backend of issue 7: the decoder forward pass as a
// gomlx computation graph (github.com/gomlx/gomlx), which gomlx can compile for XLA/PJRT
// devices or run with its pure-Go backend.
//
// # Step 1: the dense forward pass
//
// New takes a *model.Model (llama, qwen2, qwen3 or mistral; weights in the canonical Hugging
// Face layout), dequantizes every weight (f16, bf16, q8_0) to f32 once with the model
// package's own decoding and uploads it to the gomlx backend once; the host copies are then
// dropped. Model.LastLogits runs one dense causal forward pass over a single whole sequence —
// token ids and RoPE positions — and returns the logits of its last token. The graph has what
// the cpu backend has: RMSNorm, Q/K/V projections with Qwen2 biases, Qwen3 per-head Q/K
// RMSNorm, rotate-half (NeoX) RoPE with the config's inverse frequencies (Llama 3 scaling and
// GGUF rope factors included), grouped-query attention with a causal mask and Mistral's
// sliding window, a SwiGLU MLP, the final norm and the (tied or untied) output projection,
// computed for the last token only. RoPE angles are computed on the host in float64, as the
// cpu backend does, and fed to the graph as cos/sin inputs.
//
// The only gomlx backend registered here is "go" (gomlx's backends/simplego, pure Go, no
// cgo). DefaultBackend runs it as "go:ops_sequential", because its concurrent-ops mode races in
// gomlx v0.26.0; the tests select it so, explicitly, with GOMLX_NO_AUTO_INSTALL=1 so that
// gomlx never tries to download a PJRT plugin. Its logits agree with the cpu backend's to about
// 1e-6 of the largest logit on the tiny test shapes (see xla_test.go).
//
// # Step 2: backend.Backend with a paged KV cache
//
// Model implements backend.Backend: Forward over a batch of sequences that mixes prefill
// chunks and decode tokens, CopySlots, VocabSize, PageSize, NumPages and Close. Options.NumPages
// and Options.PageSize size the cache as in the cpu backend (defaults: kv.DefaultPageSize
// slots a page, 4096 slots). Semantics follow the cpu backend: each token's key (after RoPE
// and Qwen3's k-norm) and value go to slot Start+i of its sequence, found through its page
// table; every token attends to its own sequence's slots only, causally by slot index and
// within Mistral's sliding window by slot index.
//
// The KV cache lives on the HOST, not on the device: per layer, one []float32 for keys and
// one for values, numPages*pageSize rows of kvHeads*headDim. For each Forward the host
// gathers the context rows of every sequence (slots [0, Start), through its page table) into
// per-layer [P, kvDim] inputs; the graph computes q/k/v of the T new tokens, attends over the
// concatenation of the context rows and the new rows under an additive mask built on the
// host (same sequence, causal by slot, window by slot), and returns the requested logits rows
// plus every layer's new K and V rows, which the host then writes into the cache at the
// tokens' physical slots. This was chosen for correctness first: it costs a host-to-device
// copy of each sequence's whole context per step, and the attention scores of a batch are
// computed against every sequence's rows before masking (quadratic in the batch's total
// context). gomlx v0.26.0's pure-Go backend has ScatterSum (so graph.ScatterUpdate works) and
// Gather, but not DynamicUpdateSlice; a device-resident cache (updated by ScatterUpdate,
// read by Gather through the page tables, ideally with buffer donation so the cache is not
// copied) is the next step.
//
// Shape bucketing: the number of new tokens T, the number of context rows P and the number of
// logits rows are each padded up to a power of two (at least 1), so one graph is compiled per
// bucketed triple, at most about log2 of each bound. Padded tokens are id 0 and attend only to
// themselves; padded context rows are zero and masked out; padded logits rows are dropped.
// Model.Compilations reports how many graphs both executors have compiled so far (each graph
// function runs once per new input shape); TestCompilations pins the count for a prefill
// followed by decode steps.
// Masked scores get -1e30 added, which gives them exactly zero weight in float32 without any
// NaN. The paged tests (paged_test.go) drive the cpu backend and this one with the same
// batches and page tables — a 12-token prefill then 3 decode steps, a mixed batch of two
// sequences with unordered, interleaved page tables (one prefilling a chunk while the other
// decodes), and decodes after kv.Sequence.Remove moves applied with CopySlots — on tiny,
// tiny-qwen2 and tiny-mistral; the logits agree to below 1e-6 relative (tolerance 1e-4).
//
// LastLogits (step 1's dense, cache-free pass over one whole sequence) is kept and still
// tested; it shares the weights but not the KV cache.
//
// # What is not built yet
//
//   - The KV cache is on the host (above), not device tensors; every step re-uploads each
//     sequence's context.
//   - No backend.KeyShifter (ShiftKeys): cached keys cannot be re-rotated after pruning.
//   - Attention is computed over the whole batch's rows and masked, not per sequence; no
//     flash/paged attention kernel.
//   - The executors' compilation caches are unbounded (SetMaxCache(-1)); bucketing bounds
//     the number of shapes but nothing evicts old ones.
//   - No XLA/PJRT backend is linked in (no cgo, no plugin), so nothing runs on a GPU yet; the
//     package name anticipates that. Running on the "go" backend is a correctness reference,
//     not a fast path.
//   - No --backend flag or any wiring into the engine, server or commands.
//   - Weights are always f32 on the device; no bf16/f16 compute, no on-device dequantization.
package xla
