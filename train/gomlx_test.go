package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/arborlabs/arbor/runtime/backend/xla"
)

// hfName is the Hugging Face name of the trainer's tensor name (Params.Tensors), the names
// xla.LossWeightNames gives: the test pairs the two by name, not by position, so that an order
// mismatch fails too.
func hfName(name string) string {
	switch name {
	case "embed":
		return "model.embed_tokens.weight"
	case "norm":
		return "model.norm.weight"
	case "output":
		return "lm_head.weight"
	}
	layer, t, _ := strings.Cut(strings.TrimPrefix(name, "layer"), ".")
	return "model.layers." + layer + "." + map[string]string{
		"attn_norm": "input_layernorm.weight",
		"q":         "self_attn.q_proj.weight", "k": "self_attn.k_proj.weight",
		"v": "self_attn.v_proj.weight", "o": "self_attn.o_proj.weight",
		"q_norm": "self_attn.q_norm.weight", "k_norm": "self_attn.k_norm.weight",
		"ffn_norm": "post_attention_layernorm.weight",
		"gate":     "mlp.gate_proj.weight", "up": "mlp.up_proj.weight", "down": "mlp.down_proj.weight",
	}[t]
}

// gomlxLossGrads evaluates xla.LossGraph, the gomlx model definition the inference graph is
// built from, and its gradients by gomlx's autodiff, on gomlx's pure-Go backend. It returns
// the loss and the gradients by Hugging Face name.
func gomlxLossGrads(t *testing.T, m *Model, tokens [][]int32, mask [][]float32) (float64, map[string][]float32) {
	t.Helper()
	t.Setenv("GOMLX_NO_AUTO_INSTALL", "1") // never fetch a PJRT plugin: the "go" backend needs none
	cfg := &m.Config
	be, err := backends.NewWithConfig(xla.DefaultBackend)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	names := xla.LossWeightNames(cfg)
	byName := map[string]Tensor{}
	for _, w := range m.Tensors(cfg) {
		byName[hfName(w.Name)] = w
	}
	// Step's convention (mask aligned with tokens, position t predicting t+1) spelled out as
	// LossGraph's (targets and weights aligned with the predicting position).
	B, T := len(tokens), len(tokens[0])
	ids, targets, weights := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
	for b := range B {
		for i := range T {
			ids[b*T+i] = tokens[b][i]
			if i+1 < T {
				targets[b*T+i], weights[b*T+i] = tokens[b][i+1], float32(weight(mask, b, i+1))
			}
		}
	}
	args := []any{
		tensors.FromFlatDataAndDimensions(ids, B, T),
		tensors.FromFlatDataAndDimensions(targets, B, T),
		tensors.FromFlatDataAndDimensions(weights, B, T),
	}
	for _, n := range names {
		w, ok := byName[n]
		if !ok {
			t.Fatalf("LossGraph takes %s, which the trainer does not have", n)
		}
		args = append(args, tensors.FromFlatDataAndDimensions(w.Data, w.Shape...))
	}
	if len(byName) != len(names) {
		t.Fatalf("the trainer has %d tensors, LossGraph takes %d", len(byName), len(names))
	}
	// Document starts, where the trainer masks documents (the rule of Model.forward, restated).
	var starts []int32
	if m.docMask {
		starts = make([]int32, B*T)
		for b := range B {
			start := int32(0)
			for i := range T {
				starts[b*T+i] = start
				if tokens[b][i] == m.docSep {
					start = int32(i + 1)
				}
			}
		}
		args = append(args, tensors.FromFlatDataAndDimensions(starts, B, T))
	}
	exec, err := graph.NewExecAny(be, func(in []*graph.Node) []*graph.Node {
		var st *graph.Node
		if m.docMask {
			st, in = in[len(in)-1], in[:len(in)-1]
		}
		w := in[3:]
		loss := xla.LossGraph(cfg, w, in[0], in[1], in[2], st)
		return append([]*graph.Node{loss}, graph.Gradient(loss, w...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := tensors.CopyFlatData[float32](outs[0])
	if err != nil {
		t.Fatal(err)
	}
	grads := map[string][]float32{}
	for i, n := range names {
		if grads[n], err = tensors.CopyFlatData[float32](outs[1+i]); err != nil {
			t.Fatal(err)
		}
	}
	return float64(loss[0]), grads
}

// Tolerances of TestGradientsMatchGomlx. Both sides compute in float32 from the same weights;
// they differ in summation order (and the trainer sums squares for RMSNorm in float64, and
// uses its own expf), so agreement is to float32 rounding amplified by a few layers. Measured
// worst: loss 1e-7 relative, gradients 1.8e-6 relative RMS (over 25 seeds of the four configs:
// 2.3e-7 and 7.5e-6); a wrong sign anywhere gives errors of order 1.
const (
	gomlxLossTol = 1e-5
	gomlxGradTol = 5e-5
)

// TestGradientsMatchGomlx checks the trainer's loss and every gradient tensor against gomlx's
// autodiff of xla.LossGraph, the inference graph's layers turned into a training loss: the
// hand-written backward pass and the served model definition must agree. Tiny shape, Q/K
// norms on and off, tied and untied, with a loss mask, and with documents packed in the rows
// (Model.MaskDocuments).
func TestGradientsMatchGomlx(t *testing.T) {
	var worstLoss, worstGrad float64
	for _, c := range []struct{ qk, tied, docs bool }{{false, false, false}, {false, true, false}, {true, false, false},
		{true, true, false}, {true, true, true}} {
		qk, tied := c.qk, c.tied
		{
			t.Run(fmt.Sprintf("qknorm=%v,tied=%v,docs=%v", qk, tied, c.docs), func(t *testing.T) {
				cfg := tinyConfig(qk, tied)
				m := roughModel(cfg, 7)
				rng := rand.New(rand.NewPCG(8, 9))
				T := 6
				if c.docs {
					T = 9
				}
				tokens, mask := randomBatch(rng, 3, T, cfg.VocabSize, true)
				if c.docs {
					// Documents packed in rows: one break in the first row, two in the second,
					// none in the third.
					const sep = 3
					m.MaskDocuments(sep)
					for b, row := range tokens {
						for i, id := range row {
							if id == sep {
								row[i] = sep + 1
							}
						}
						for _, at := range [][]int{{3}, {2, 6}, nil}[b] {
							row[at] = sep
						}
					}
				}
				g := NewGrads(m)
				loss, _, err := m.Step(tokens, mask, g)
				if err != nil {
					t.Fatal(err)
				}
				gLoss, gGrads := gomlxLossGrads(t, m, tokens, mask)
				rel := math.Abs(loss-gLoss) / math.Abs(loss)
				worstLoss = max(worstLoss, rel)
				if rel > gomlxLossTol {
					t.Errorf("loss: trainer %.8g, gomlx %.8g (relative error %.3g)", loss, gLoss, rel)
				}
				for _, gt := range g.Tensors(&cfg) {
					want := gGrads[hfName(gt.Name)]
					if len(want) != len(gt.Data) {
						t.Fatalf("%s: gomlx gives %d gradients, the trainer %d", gt.Name, len(want), len(gt.Data))
					}
					var d2, r2 float64
					for i, v := range gt.Data {
						d := float64(v) - float64(want[i])
						d2 += d * d
						r2 += float64(want[i]) * float64(want[i])
					}
					if r2 == 0 {
						t.Errorf("%s: gomlx's gradient is all zero", gt.Name)
						continue
					}
					e := math.Sqrt(d2 / r2)
					worstGrad = max(worstGrad, e)
					if e > gomlxGradTol {
						t.Errorf("%s: relative RMS error %.3g against gomlx", gt.Name, e)
					} else if testing.Verbose() {
						t.Logf("%s: relative RMS error %.2g", gt.Name, e)
					}
				}
			})
		}
	}
	t.Logf("worst relative errors: loss %.2g, gradients %.2g", worstLoss, worstGrad)
}
