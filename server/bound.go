package server

import (
	"fmt"

	"github.com/arborlabs/arbor/runtime/engine"
)

// checkPromptBound refuses a prompt text that cannot fit the context before it is tokenized:
// the tokenizer bounds a text's token count from below by its bytes (every token stands for at
// most so many), so a prompt of megabytes is answered at once instead of after seconds of
// tokenization and hundreds of megabytes of ids. extra counts the tokens added around the text
// (BOS); maxTokens is what must be left for the answer (0: nothing), as checkContext counts it.
// The error is checkContext's, so clients see one context_length_exceeded whichever check
// caught the prompt.
func (st *modelState) checkPromptBound(text string, extra, maxTokens int) error {
	lo := st.tok.MinTokens(text)
	if lo == 0 {
		return nil
	}
	lo += extra
	maxContext := st.gen.MaxContext()
	if lo >= maxContext {
		return fmt.Errorf("%w: this model's maximum context length is %d tokens, and the prompt (%d bytes) has "+
			"at least %d",
			engine.ErrContextLength, maxContext, len(text), lo)
	}
	if maxTokens > 0 && lo+maxTokens > maxContext {
		return fmt.Errorf("%w: this model's maximum context length is %d tokens; the prompt (%d bytes) has at "+
			"least %d and max_tokens asks for %d more (at most %d fit)",
			engine.ErrContextLength, maxContext, len(text), lo, maxTokens, maxContext-lo)
	}
	return nil
}
