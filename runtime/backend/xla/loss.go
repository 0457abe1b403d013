package xla

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/arborlabs/arbor/runtime/model"
)

// gomlx v0.26.0 defines no gradient for Rsqrt, which rmsNorm uses, and its autodiff refuses a
// graph that holds one. Registering it here (gomlx's documented way to add an op's gradient)
// lets the loss graph share rmsNorm with inference unchanged, rather than rewriting the
// inference norm as 1/Sqrt, which would round differently. A later gomlx's own wins.
func init() {
	if _, ok := graph.VJPRegistration[graph.NodeTypeRsqrt]; !ok {
		graph.VJPRegistration[graph.NodeTypeRsqrt] = func(node *graph.Node, v []*graph.Node, _ shapes.Shape) []*graph.Node {
			// y = x^-1/2, dy/dx = -y^3/2.
			return []*graph.Node{graph.Mul(v[0], graph.MulScalar(graph.Mul(node, graph.Square(node)), -0.5))}
		}
	}
}

// lossWeight is one weight LossGraph takes: its Hugging Face name and shape.
type lossWeight struct {
	name  string
	shape []int
}

// lossLayout lists the weights cfg calls for in LossGraph's order (that of the model's
// checkpoints: the embedding, each layer's tensors, the final norm, the untied output) and
// where each lands: the same indices the inference graph reads through layerIdx.
func lossLayout(cfg *model.Config) (ws []lossWeight, embed, outNorm, output int, layers []layerIdx) {
	H, V, F, D := cfg.HiddenSize, cfg.VocabSize, cfg.FFNSize, cfg.HeadDim
	q, kv := cfg.NumHeads*D, cfg.NumKVHeads*D
	add := func(name string, shape ...int) int {
		ws = append(ws, lossWeight{name, shape})
		return len(ws) - 1
	}
	embed = add("model.embed_tokens.weight", V, H)
	layers = make([]layerIdx, cfg.NumLayers)
	for i := range layers {
		l, p := &layers[i], "model.layers."+strconv.Itoa(i)+"."
		l.attnNorm = add(p+"input_layernorm.weight", H)
		l.q = add(p+"self_attn.q_proj.weight", q, H)
		l.k = add(p+"self_attn.k_proj.weight", kv, H)
		l.v = add(p+"self_attn.v_proj.weight", kv, H)
		l.o = add(p+"self_attn.o_proj.weight", H, q)
		l.qBias, l.kBias, l.vBias, l.qNorm, l.kNorm = -1, -1, -1, -1, -1
		if cfg.AttnBias {
			l.qBias = add(p+"self_attn.q_proj.bias", q)
			l.kBias = add(p+"self_attn.k_proj.bias", kv)
			l.vBias = add(p+"self_attn.v_proj.bias", kv)
		}
		if cfg.QKNorm {
			l.qNorm = add(p+"self_attn.q_norm.weight", D)
			l.kNorm = add(p+"self_attn.k_norm.weight", D)
		}
		l.ffnNorm = add(p+"post_attention_layernorm.weight", H)
		l.gate = add(p+"mlp.gate_proj.weight", F, H)
		l.up = add(p+"mlp.up_proj.weight", F, H)
		l.down = add(p+"mlp.down_proj.weight", H, F)
	}
	outNorm = add("model.norm.weight", H)
	output = embed
	if !cfg.TieEmbeddings {
		output = add("lm_head.weight", V, H)
	}
	return ws, embed, outNorm, output, layers
}

// LossWeightNames lists the Hugging Face names of the weights LossGraph takes, in the order it
// takes them: the embedding; per layer the attention norm, Q, K, V, O, the Q/K/V biases (with
// cfg.AttnBias), the Q and K norms (with cfg.QKNorm), the MLP norm, gate, up and down; the
// final norm; the output (without cfg.TieEmbeddings). That is the order of the trainer's
// Params.Tensors too. Matrices are [out, in], as in the checkpoints.
func LossWeightNames(cfg *model.Config) []string {
	ws, _, _, _, _ := lossLayout(cfg)
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.name
	}
	return names
}

// LossGraph builds the training loss of a decoder over a batch of B sequences of T tokens with
// the layers the inference graph runs (attnInputs, layerOutput, rmsNorm, linear), so that
// what is trained through it is what Forward serves. weights are the float32 tensors
// LossWeightNames lists, in that order; tokens and targets are int32 [B, T], lossMask float32
// [B, T]. Position t of each row predicts targets[b][t] with weight lossMask[b][t]; the result
// is the scalar weighted mean cross-entropy, sum(lossMask·CE) / sum(lossMask), or 0 when no
// weight is set. Every row attends causally (within cfg.SlidingWindow when set) to its own
// tokens at positions 0..T-1, with no KV cache. starts, when not nil, packs documents into the
// rows (train.Model.MaskDocuments): int32 [B, T], the index in its row where each token's
// document begins; a token's position is then its distance from that start, and it attends to
// its own document's tokens alone.
//
// train.Model.Step's loss over tokens and mask is this with targets[b][t] = tokens[b][t+1] and
// lossMask[b][t] = mask[b][t+1] for t < T-1, and lossMask[b][T-1] = 0. Take its gradients with
// graph.Gradient. Like gomlx's own ops it panics on a malformed input.
func LossGraph(cfg *model.Config, weights []*graph.Node, tokens, targets, lossMask, starts *graph.Node) *graph.Node {
	ws, embed, outNorm, output, layers := lossLayout(cfg)
	if len(weights) != len(ws) {
		panic(fmt.Errorf("xla.LossGraph: %d weights, the config calls for %d", len(weights), len(ws)))
	}
	for i, w := range ws {
		if got := weights[i].Shape(); got.DType != dtypes.Float32 || !slices.Equal(got.Dimensions, w.shape) {
			panic(fmt.Errorf("xla.LossGraph: weight %s is %s, want float32 %v", w.name, got, w.shape))
		}
	}
	dims := tokens.Shape().Dimensions
	if len(dims) != 2 || !slices.Equal(targets.Shape().Dimensions, dims) || !slices.Equal(lossMask.Shape().Dimensions, dims) ||
		starts != nil && !slices.Equal(starts.Shape().Dimensions, dims) {
		panic(fmt.Errorf("xla.LossGraph: tokens %s, targets %s, lossMask %s (and starts) must all be [B, T]",
			tokens.Shape(), targets.Shape(), lossMask.Shape()))
	}
	g := tokens.Graph()
	B, T := dims[0], dims[1]
	N, hd, half := B*T, cfg.HeadDim, cfg.HeadDim/2
	nkv, group := cfg.NumKVHeads, cfg.NumHeads/cfg.NumKVHeads

	// The RoPE angles of positions 0..T-1 for every row, computed on the host in float64 from
	// the config's frequencies as Forward's are, and the additive causal mask: both depend on
	// T only, which the graph is built for.
	inv := cfg.RopeInvFreq()
	cos, sin := make([]float32, N*half), make([]float32, N*half)
	for n := range N {
		for k := range half {
			s, c := math.Sincos(float64(n%T) * inv[k])
			cos[n*half+k], sin[n*half+k] = float32(c), float32(s)
		}
	}
	mask := make([]float32, T*T)
	for q := range T {
		for key := range T {
			if key > q || (cfg.SlidingWindow > 0 && key <= q-cfg.SlidingWindow) {
				mask[q*T+key] = maskedOut
			}
		}
	}
	cosN := graph.Reshape(graph.Const(g, cos), N, 1, half)
	sinN := graph.Reshape(graph.Const(g, sin), N, 1, half)
	causal := graph.Reshape(graph.Const(g, mask), 1, 1, 1, T, T)
	if starts != nil {
		// Positions restart at each document: the angles are gathered from the table's first
		// row (positions 0..T-1) by each token's distance from its document's start; and a
		// token attends to no key before that start.
		t := graph.Iota(g, shapes.Make(dtypes.Int32, B, T), 1)
		pos := graph.Reshape(graph.Sub(t, starts), N, 1)
		cosN = graph.Reshape(graph.Gather(graph.Reshape(graph.Const(g, cos[:T*half]), T, half), pos), N, 1, half)
		sinN = graph.Reshape(graph.Gather(graph.Reshape(graph.Const(g, sin[:T*half]), T, half), pos), N, 1, half)
		keys := graph.Iota(g, shapes.Make(dtypes.Int32, B, T, T), 2) // [b, query, key]: the key
		before := graph.LessThan(keys, graph.Reshape(starts, B, T, 1))
		docs := graph.Where(before, graph.Scalar(g, dtypes.Float32, maskedOut), graph.Zeros(g, shapes.Make(dtypes.Float32, B, T, T)))
		causal = graph.Add(causal, graph.Reshape(docs, B, 1, 1, T, T))
	}
	scale := graph.Scalar(g, dtypes.Float32, 1/math.Sqrt(float64(hd)))

	// The rows of all sequences go through the per-token layers together, [B*T, hidden];
	// attention alone splits them by sequence.
	act := graph.Reshape(graph.Gather(weights[embed], graph.Reshape(tokens, N, 1)), N, cfg.HiddenSize)
	for i := range layers {
		l := &layers[i]
		q, k, v := attnInputs(cfg, act, weights, l, cosN, sinN)
		q = graph.Reshape(q, B, T, nkv, group, hd)
		k = graph.Reshape(k, B, T, nkv, hd)
		v = graph.Reshape(v, B, T, nkv, hd)
		scores := graph.Add(graph.Mul(graph.Einsum("btkgd,bskd->bkgts", q, k), scale), causal)
		att := graph.Einsum("bkgts,bskd->btkgd", graph.Softmax(scores, -1), v)
		act = layerOutput(cfg, act, graph.Reshape(att, N, nkv, group, hd), weights, l)
	}
	logits := linear(rmsNorm(act, weights[outNorm], float64(cfg.RMSNormEps)), weights[output]) // [N, vocab]
	onehot := graph.OneHot(graph.Reshape(targets, N), cfg.VocabSize, dtypes.Float32)
	ce := graph.Neg(graph.ReduceSum(graph.Mul(onehot, graph.LogSoftmax(logits, -1)), -1)) // [N]
	w := graph.Reshape(lossMask, N)
	count := graph.ReduceAllSum(w)
	zero := graph.ScalarZero(g, dtypes.Float32)
	// An all-zero mask gives 0, as the trainer does, not 0/0.
	count = graph.Where(graph.GreaterThan(count, zero), count, graph.OnesLike(count))
	return graph.Div(graph.ReduceAllSum(graph.Mul(w, ce)), count)
}
