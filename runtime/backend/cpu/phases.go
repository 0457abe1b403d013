package cpu

import "time"

// Phase is a part of a forward pass that PhaseTime accounts for.
type Phase int

const (
	PhaseNorm      Phase = iota // the RMSNorms before attention and the FFN (with their rows' quantization where folded in)
	PhaseQKV                    // the q, k and v products
	PhasePlace                  // the Q/K norms, RoPE and the KV stores
	PhaseAttention              // attention (and DELTA's page selection)
	PhaseO                      // the attention output product
	PhaseGateUp                 // the FFN gate and up products
	PhaseSwiGLU                 // silu(gate) * up (with the rows' quantization where folded in)
	PhaseDown                   // the FFN down product
	PhaseOutput                 // the final norm, the output product and the logits
	PhaseOther                  // embeddings, RoPE angles, sparse bookkeeping
	NumPhases
)

var phaseNames = [NumPhases]string{"norm", "qkv", "place", "attention", "o", "gate_up", "swiglu", "down",
	"output", "other"}

func (p Phase) String() string {
	if p < 0 || p >= NumPhases {
		return "unknown"
	}
	return phaseNames[p]
}

// PhaseTime is the wall time of the forward passes since TimePhases turned timing on, by
// phase, summed over layers; a product's time includes quantizing its input where that was
// not folded into the step before it. `arbor bench --phases` reports it: it is how a step's
// time was found to go, for instance, 1 ms of an eight-sequence step to norms and
// quantization on one core while the other waited.
type PhaseTime struct {
	Passes int64 // forward passes timed
	Nanos  [NumPhases]int64
}

// TimePhases turns the per-phase timing of forward passes on or off (off by default: it reads
// the clock nine times a layer) and, turning it on, starts the sums from zero.
func (b *Backend) TimePhases(on bool) {
	b.timePhases = on
	if on {
		b.phaseTime = PhaseTime{}
	}
}

// PhaseTime returns the sums so far.
func (b *Backend) PhaseTime() PhaseTime { return b.phaseTime }

// phaseClock marks the end of one phase and the start of the next, when timing is on.
type phaseClock struct {
	b    *Backend
	last time.Time
}

func (b *Backend) phaseClock() phaseClock {
	if !b.timePhases {
		return phaseClock{}
	}
	b.phaseTime.Passes++
	return phaseClock{b: b, last: time.Now()}
}

// mark adds the time since the last mark to phase p.
func (c *phaseClock) mark(p Phase) {
	if c.b == nil {
		return
	}
	now := time.Now()
	c.b.phaseTime.Nanos[p] += int64(now.Sub(c.last))
	c.last = now
}
