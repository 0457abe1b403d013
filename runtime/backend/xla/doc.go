// Package xla is the accelerator backend: the decoder forward pass as a gomlx computation graph
// (github.com/gomlx/gomlx), which gomlx compiles for XLA/PJRT devices or runs with its pure-Go
// engine.
//
// # Model
//
// New takes a *model.Model (llama, qwen2, qwen3 or mistral; weights in the canonical Hugging
// Face layout), dequantizes every weight (f16, bf16, q8_0) to f32 once with the model package's
// own decoding and uploads it to the gomlx backend once; the host copies are then dropped.
// Weights stay f32 on the device. The graph computes what the cpu backend computes: RMSNorm,
// Q/K/V projections with Qwen2 biases, Qwen3 per-head Q/K RMSNorm, rotate-half (NeoX) RoPE with
// the config's inverse frequencies (Llama 3 scaling and GGUF rope factors included),
// grouped-query attention under Mistral's sliding window, a SwiGLU MLP, the final norm and the
// (tied or untied) output projection for the rows whose logits are asked for. RoPE angles are
// computed on the host in float64, as the cpu backend computes them, and fed to the graph as
// cos/sin inputs.
//
// Model implements backend.Backend (Forward over a batch that mixes prefill chunks and decode
// tokens, CopySlots, VocabSize, PageSize, NumPages, Close) and backend.KeyShifter (ShiftKeys),
// with the cpu backend's semantics: each token's key (after RoPE and Qwen3's k-norm) and value
// go to slot Start+i of its sequence, found through its page table; every token attends to its
// own sequence's slots only, causally by slot index and within Mistral's sliding window by slot
// index. Options.NumPages and Options.PageSize size the cache as in the cpu backend (defaults:
// kv.DefaultPageSize slots a page, 4096 slots).
//
// # KV cache
//
// The KV cache lives on the device: per layer, one tensor of keys and one of values, each
// [numPages*pageSize+1, kvHeads*headDim] of the cache's element type (Options.KV: f16 by
// default, or f32). The extra last row is scratch: padded tokens
// write there and padded context rows read from it, so padding never touches a real slot. For
// each Forward the host turns the page tables into row indices (the context rows of every
// sequence, and the row each new token writes) and an additive mask (same sequence, causal by
// slot, window by slot); the graph gathers the context rows from the cache, computes q/k/v of
// the new tokens, attends over the context rows and the new rows, writes the new keys and
// values into their rows, and returns the requested logits rows and the updated cache. Only the
// indices, the mask, the ids and the RoPE angles cross to the device per step. Attention is
// computed over the whole batch's context rows under that mask, not per sequence, so its cost
// grows with the square of the batch's total context. Masked scores get -1e30 added, which
// gives them exactly zero weight in float32 without any NaN.
//
// An f16 cache rounds each new key and value to the nearest binary16, ties to even (as the cpu
// backend's F16C conversion does), before it is both stored and attended to, so a token
// attends to its own key as later tokens will read it; attention converts what it gathers to
// float32 and computes in float32. The rounding is float arithmetic in the graph (roundF16),
// the same on every gomlx backend, and exact (tested bit for bit against the model package's
// conversion). Where the backend has Float16 (XLA) the cache tensors are Float16, half the
// bytes a decode step reads; gomlx's pure-Go backend has no Float16, so there they are float32
// tensors holding the rounded values: the same numbers without the memory saving. ShiftKeys
// rotates in float32 and stores the keys rounded again; CopySlots moves values as they are.
//
// # Sparse attention
//
// A decode token whose SeqInput.Sparse is active (runtime/sparse: DELTA) attends fully in
// its full and select layers and, in its sparse layers, only to the slots of the pages the
// latest select layer below picked (or SeqInput.SparsePages): those layers gather only the
// picked pages' rows from the cache, under a mask of their own, which is what saves a GPU the
// reads of a long context. The pass is then split into one graph per segment of layers
// ending at a select layer whose picks some sparse layer reads; that segment also returns
// each selecting token's largest probability over heads for every context slot, and the host
// scores and picks the pages with runtime/sparse's PageScores and Pick (one device round trip
// per select layer; Forward's comment says why the pick is not in the graph). Every other
// sequence in the batch, prefill chunks and short contexts attend fully, with the same graph
// and results as without a sparse request. Forward reports every sequence's Context and
// Attended.
//
// The cache tensors are donated to each execution (graph.DonateTensorBuffer), so a PJRT device
// may update them in place instead of copying (a tensor that shares its memory with the host,
// gomlx's IsShared, cannot be donated and is passed as it is). If an execution fails after the
// cache was donated, the cache is gone: the Model then refuses all further work with an error
// saying so.
//
// CopySlots composes the moves on the host (applied in order, each reading before it writes, as
// copy does) into one simultaneous copy, which one graph applies to every layer: gather the
// source rows, write them to the destinations. ShiftKeys gathers the keys of the slots, rotates
// them by delta positions as RoPE does (angles computed on the host in float64) and writes them
// back, so the tree decoder's Shift position policy runs on this backend too.
//
// Writing rows into the cache is where the two kinds of gomlx backend differ, so it is chosen by
// the backend's reported capabilities (Options.CacheUpdate, Model.CacheUpdate). With
// DynamicUpdateSlice (XLA has it) each written row is one in-place update of the donated
// buffer, touching only that row: UpdateSlices, the choice wherever the operation exists, for
// writes of up to 32 rows (decode steps and small moves); longer writes take the scatter, which
// is one graph operation however many rows it writes. gomlx v0.26.0's pure-Go engine has no
// DynamicUpdateSlice (nor DynamicSlice), only Gather and ScatterSum, from which gomlx builds
// ScatterUpdate; that passes over the whole cache tensor (a mask of the written rows, a Where,
// a ScatterSum) but runs everywhere: UpdateScatter.
//
// # Compiled graphs
//
// The number of new tokens T, the number of context rows P and the number of logits rows are
// each padded up to a power of two (at least 1), so one graph is compiled per bucketed triple
// (with sparse attention: per segment, and per padded count of each sparse layer's gathered
// rows and of selecting sequences, which stay in a bucket or two as the context grows);
// CopySlots and ShiftKeys pad their row counts likewise. The compiled graphs are kept in an LRU
// of Options.MaxGraphs (default DefaultMaxGraphs): gomlx's own per-Exec cache refuses a new
// shape when full instead of evicting, so each shape gets an Exec of its own and the least
// recently used one is finalized when the LRU is full. Model.Compilations counts the graphs
// built. A 1,000-token greedy generation from a 4-token prompt compiles 10: the prefill (T=4)
// and nine decode buckets (P = 4, 8, ..., 1024).
//
// # gomlx backends
//
// The default build registers gomlx's pure-Go engine only ("go", backends/simplego, no cgo)
// and stays pure Go. DefaultBackend runs it as "go:ops_sequential", because its concurrent-ops
// mode races in gomlx v0.26.0. On that engine this backend is a correctness reference, far
// slower per token than the cpu backend (its matrix products re-block the weights on every
// call). Built with -tags pjrt (cgo), the binary also registers gomlx's XLA backend, which
// loads a PJRT plugin at run time: GOMLX_BACKEND=xla:cuda (plugin found through
// PJRT_PLUGIN_LIBRARY_PATH) or xla:<path of the plugin .so>. Arbor turns gomlx's plugin
// auto-install off: the plugin is the operator's to install (the README says where the CUDA one
// comes from).
//
// # Tests
//
// The backend conformance suite (runtime/backend/conformance) runs on this backend with gomlx's
// pure-Go engine and the scatter writes: logits against the cpu backend mirroring every step,
// and against a cpu prefill of the live tokens, for tiny (Qwen3), tiny-llama, tiny-qwen2 and
// tiny-mistral in f32, f16, bf16 and q8_0, with f32 and f16 KV caches, through prefill, decode,
// mixed batches, reused pages, pruned spans with and without ShiftKeys; within 1e-4 of the
// largest logit (q8_0: 3e-2, since the cpu backend quantizes activations to 8 bits as ggml does
// and this one does not; an f16 cache: at least 2^-11). Its sparse cases check a selection of
// every page against full attention bit for bit, and forced and real selections (and a batch
// mixing them with two configs and a prefill) against the suite's own reference pass and,
// once the cpu backend implements sparse attention, against the cpu backend.
// TestConformanceSlices runs the suite with slice writes where GOMLX_BACKEND names a backend
// that has DynamicUpdateSlice, and skips (saying why) on the pure-Go one.
package xla
