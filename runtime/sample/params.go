// Package sample picks the next token from a plain []float32 of logits.
//
// A Sampler applies, in this order (the order of Hugging Face's generate and of vLLM):
//
//  1. penalties on the raw logits: repetition (CTRL's, over the context and the generated
//     tokens), then presence and frequency (OpenAI's, over the generated tokens only);
//  2. temperature (0 means greedy: the exact argmax, ties to the lowest id);
//  3. top-k, 4. top-p (nucleus, over what top-k kept), 5. min-p (relative to the most likely
//     token);
//  6. a draw from what is left, with the sampler's own random source.
//
// Per token it allocates nothing once its scratch buffers have grown to the vocabulary, and it
// never sorts the vocabulary: top-k keeps a k-element heap, top-p selects by mass in expected
// linear time, and tokens whose probability is below float32 resolution are dropped up front.
package sample

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidParams is wrapped by every error Validate returns, so the server can map it to 400.
var ErrInvalidParams = errors.New("invalid sampling parameters")

// Params are one request's sampling settings. The zero value is not valid (TopP and
// RepetitionPenalty 0); start from DefaultParams.
type Params struct {
	Temperature float32 // [0, 2]; 0 is greedy
	TopK        int     // >= 0; 0 is off. Keeps exactly k tokens, ties at the boundary to the lowest id
	TopP        float32 // (0, 1]; 1 is off
	MinP        float32 // [0, 1]; 0 is off
	// RepetitionPenalty > 0; 1 is off. Logits of tokens seen in the context or generated are
	// divided by it when positive and multiplied when negative (CTRL, Hugging Face).
	RepetitionPenalty float32
	// PresencePenalty and FrequencyPenalty in [-2, 2]; 0 is off. For each generated token t,
	// logit[t] -= PresencePenalty + FrequencyPenalty*count(t) (OpenAI).
	PresencePenalty  float32
	FrequencyPenalty float32
	// Seed makes the draws reproducible: the same seed and the same logits give the same tokens.
	// Nil seeds from the runtime's random source.
	Seed *uint64
}

// DefaultParams are OpenAI's defaults: temperature 1, every filter and penalty off, no seed.
func DefaultParams() Params {
	return Params{Temperature: 1, TopP: 1, RepetitionPenalty: 1}
}

// Validate checks p against OpenAI's ranges (and Hugging Face's for the settings OpenAI lacks),
// reporting every bad field. NaN is out of every range.
func (p Params) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidParams}, args...)...))
	}
	if !(p.Temperature >= 0 && p.Temperature <= 2) {
		bad("temperature %v is outside [0, 2]", p.Temperature)
	}
	if p.TopK < 0 {
		bad("top_k %d is negative (0 turns it off)", p.TopK)
	}
	if !(p.TopP > 0 && p.TopP <= 1) {
		bad("top_p %v is outside (0, 1] (1 turns it off)", p.TopP)
	}
	if !(p.MinP >= 0 && p.MinP <= 1) {
		bad("min_p %v is outside [0, 1] (0 turns it off)", p.MinP)
	}
	if !(p.RepetitionPenalty > 0) || math.IsInf(float64(p.RepetitionPenalty), 1) {
		bad("repetition_penalty %v must be positive and finite (1 turns it off)", p.RepetitionPenalty)
	}
	if !(p.PresencePenalty >= -2 && p.PresencePenalty <= 2) {
		bad("presence_penalty %v is outside [-2, 2]", p.PresencePenalty)
	}
	if !(p.FrequencyPenalty >= -2 && p.FrequencyPenalty <= 2) {
		bad("frequency_penalty %v is outside [-2, 2]", p.FrequencyPenalty)
	}
	return errors.Join(errs...)
}
