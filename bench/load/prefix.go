package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
)

// words make the long system prompts: ordinary English, so that the tokenizer sees ordinary
// text (about 1.2 tokens a word with the Qwen3 and Llama 3 tokenizers).
var words = strings.Fields(`
the of and to in is was for on that with as by at from this be or are an it which have has
not but were had their more one all its also been other two time new first after would can
system service request answer question document report section chapter table value number
model engine server client memory cache page token prompt stream batch queue latency record
river mountain garden window market harbor village station library museum bridge forest
morning evening winter summer careful simple quiet bright early later often rarely always
write read build measure compare explain describe follow notice remember choose return keep
policy customer account invoice order product shipping refund support contract schedule
between during against within without before under above across behind beyond toward
history science music language art energy health water weather travel kitchen school
`)

// prefixText returns a system prompt of about n words, different for each seed from its very
// first words (so that two prefixes share no cached page).
func prefixText(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var b strings.Builder
	fmt.Fprintf(&b, "Reference notes, set %d. ", seed)
	for i := 0; i < n; i++ {
		if i > 0 {
			if i%12 == 0 {
				b.WriteString(". ")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	b.WriteByte('.')
	return b.String()
}

// tokenCount counts the tokens of text with `arbor tokenize` (the model's tokenizer, or the
// built-in demo's when model is empty).
func tokenCount(ctx context.Context, arbor, model, text string) (int, error) {
	args := []string{"tokenize"}
	if model != "" {
		args = append(args, "--model", model)
	}
	cmd := exec.CommandContext(ctx, arbor, args...)
	cmd.Stdin = strings.NewReader(text)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("arbor tokenize: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	var ids []int
	if err := json.Unmarshal(out.Bytes(), &ids); err != nil {
		return 0, fmt.Errorf("arbor tokenize output: %w", err)
	}
	return len(ids), nil
}

// sizedPrefix returns a prefix of target to target+slack tokens (counted by arbor tokenize) and
// its exact count. It scales the word count from one count, then walks a few words at a time.
func sizedPrefix(ctx context.Context, arbor, model string, seed uint64, target, slack int) (string, int, error) {
	n := target * 3 / 4 // words; ordinary English runs 1.2 to 1.4 tokens a word
	var text string
	var count int
	for try := 0; try < 12; try++ {
		text = prefixText(seed, n)
		c, err := tokenCount(ctx, arbor, model, text)
		if err != nil {
			return "", 0, err
		}
		count = c
		if c >= target && c <= target+slack {
			return text, c, nil
		}
		if try == 0 {
			n = max(1, n*target/c)
		} else if c < target {
			n += max(1, (target-c)/2)
		} else {
			n -= max(1, (c-target-slack)/2)
		}
	}
	return text, count, nil // close enough; the count is reported as measured
}
