// Package xla is the start of the accelerator backend of issue 7: the decoder forward pass as a
// gomlx computation graph (github.com/gomlx/gomlx), which gomlx can compile for XLA/PJRT
// devices or run with its pure-Go backend.
//
// # What this step is
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
// # What is not built yet
//
//   - No KV cache: every call recomputes the whole sequence (cost quadratic in its length).
//     The paged KV cache as device tensors (pages indexed by the engine's page tables, written
//     by scatter, read by gather) is the next step.
//   - Model does not implement backend.Backend: no Forward over a batch of several sequences,
//     no CopySlots, no KeyShifter, no page accounting.
//   - No shape bucketing: gomlx compiles one graph per distinct sequence length, and the
//     executor's cache is unbounded. Padding lengths to buckets (with masking) is needed
//     before this serves traffic.
//   - No XLA/PJRT backend is linked in (no cgo, no plugin), so nothing runs on a GPU yet; the
//     package name anticipates that. Running on the "go" backend is a correctness reference,
//     not a fast path.
//   - No --backend flag or any wiring into the engine, server or commands.
//   - Weights are always f32 on the device; no bf16/f16 compute, no on-device dequantization.
package xla
