package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/runtime/sample"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// demoDescription says what the built-in demo model is, wherever it is used without --model.
const demoDescription = "3.4M parameters trained by Arbor on arithmetic word problems: it solves them " +
	"with a calculator, in task trees (arbor serve's default for it) or with tool calls, and knows nothing else"

// loadModel opens --model, or the built-in demo model when path is empty (saying so plainly).
func loadModel(path string, stderr io.Writer) (*model.Model, error) {
	if path == "" {
		fmt.Fprintln(stderr, "arbor: no --model given: using the built-in demo model ("+demoDescription+")")
		return demo.Load()
	}
	m, err := model.Load(path)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func cmdGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", stderr)
	modelPath := fs.String("model", "", "model: a Hugging Face directory or a .gguf file (default: the "+
		"built-in demo model)")
	prompt := fs.String("prompt", "", "the prompt text")
	promptIDs := fs.String("prompt-ids", "", "the prompt as a JSON array of token ids (used as is: no BOS added), "+
		"or @FILE to read the array from a file (a long prompt outgrows the command line)")
	useChat := fs.Bool("chat", false, "wrap the prompt as a user message in the model's chat template")
	maxTokens := fs.Int("max-tokens", 128, "the most tokens to generate")
	temperature := fs.Float64("temperature", 0.7, "sampling temperature; 0 is greedy")
	topP := fs.Float64("top-p", 1, "nucleus sampling: keep the smallest set of tokens whose probability reaches P")
	topK := fs.Int("top-k", 0, "keep the K most likely tokens (0: off)")
	seed := fs.Int64("seed", -1, "random seed for a reproducible run (-1: random)")
	threads := fs.Int("threads", 0, "worker threads (0: all cores)")
	backendKind := fs.String("backend", "cpu", backendHelp)
	ctxLen := fs.Int("ctx", 4096, "the most tokens (prompt and generated) the KV cache holds")
	asJSON := fs.Bool("json", false, "print one JSON object (ids, text, speeds) instead of streaming text")
	long := addLongContextFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := long.check(); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if (*prompt == "") == (*promptIDs == "") {
		return errors.New("generate: give exactly one of --prompt and --prompt-ids")
	}
	if *useChat && *promptIDs != "" {
		return errors.New("generate: --chat works on --prompt text, not on --prompt-ids")
	}
	m, err := loadModel(*modelPath, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	tok := m.Tokenizer
	sparseCfg, err := long.sparseConfig(m.Config.NumLayers)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}

	ids, err := promptTokens(tok, m.Config.VocabSize, *prompt, *promptIDs, *useChat)
	if err != nil {
		return err
	}
	params := sample.DefaultParams()
	params.Temperature, params.TopP, params.TopK = float32(*temperature), float32(*topP), *topK
	if *seed >= 0 {
		s := uint64(*seed)
		params.Seed = &s
	}
	if err := params.Validate(); err != nil {
		return fmt.Errorf("generate: %w", err)
	}

	pageSize := 16
	be, err := newBackend(*backendKind, m, *threads, pageSize, (*ctxLen+pageSize-1)/pageSize, long.kv)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	defer be.Close()
	eng := engine.New(be, tok, engine.Options{MaxContext: *ctxLen, NumLayers: m.Config.NumLayers})
	defer eng.Shutdown(context.Background())

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	var emit func(engine.Event) error
	if !*asJSON {
		emit = func(ev engine.Event) error {
			if _, err := out.WriteString(ev.Text); err != nil {
				return err
			}
			return out.Flush()
		}
	}
	res, err := eng.Generate(ctx, engine.Request{
		Prompt:     ids,
		MaxTokens:  *maxTokens,
		Sampling:   params,
		StopTokens: stopTokens(m),
		Sparse:     sparseCfg,
	}, emit)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if *asJSON {
		if res.IDs == nil {
			res.IDs = []int32{}
		}
		enc := json.NewEncoder(out)
		return enc.Encode(res)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(stderr, "arbor: %d prompt tokens at %.1f tokens/s, %d generated at %.1f tokens/s (%s)\n",
		res.PromptTokens, res.PrefillTokensPerS, res.CompletionTokens, res.DecodeTokensPerS, res.FinishReason)
	if sparseCfg != nil && res.ContextTokens > 0 {
		fmt.Fprintf(stderr, "arbor: sparse attention %s: decode steps attended to %.1f%% of their context\n",
			describeSparse(sparseCfg), 100*float64(res.AttendedTokens)/float64(res.ContextTokens))
	}
	return nil
}

// promptTokens turns the prompt flags into token ids: ids as given, or the text encoded (with
// BOS where the tokenizer adds one, as Hugging Face's encode does), or the text wrapped in the
// chat template (whose text carries any BOS itself).
func promptTokens(tok *tokenizer.Tokenizer, vocab int, prompt, promptIDs string, useChat bool) ([]int32, error) {
	if promptIDs != "" {
		raw := []byte(promptIDs)
		if name, ok := strings.CutPrefix(promptIDs, "@"); ok {
			var err error
			if raw, err = os.ReadFile(name); err != nil {
				return nil, fmt.Errorf("--prompt-ids: %w", err)
			}
		}
		var ids []int32
		if err := json.Unmarshal(raw, &ids); err != nil {
			return nil, fmt.Errorf("--prompt-ids: want a JSON array of token ids: %w", err)
		}
		if len(ids) == 0 {
			return nil, errors.New("--prompt-ids: empty")
		}
		for _, id := range ids {
			if id < 0 || int(id) >= vocab {
				return nil, fmt.Errorf("--prompt-ids: token %d outside the vocabulary of %d", id, vocab)
			}
		}
		return ids, nil
	}
	if useChat {
		src := tok.ChatTemplate()
		if src == "" {
			return nil, errors.New("--chat: the model has no chat template")
		}
		tmpl, err := chat.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("--chat: %w", err)
		}
		text, err := tmpl.Render(chat.Input{
			Messages:            []chat.Message{{Role: "user", Content: prompt}},
			AddGenerationPrompt: true,
			BOSToken:            tok.BOSToken(),
			EOSToken:            tok.EOSToken(),
		})
		if err != nil {
			return nil, fmt.Errorf("--chat: %w", err)
		}
		return tok.Encode(text), nil
	}
	ids := tok.Encode(prompt)
	if tok.AddBOS() && tok.BOS() >= 0 {
		ids = append([]int32{tok.BOS()}, ids...)
	}
	return ids, nil
}

// stopTokens are the ids that end a generation: the tokenizer's end-of-turn tokens and the
// model's generation_config eos ids.
func stopTokens(m *model.Model) []int32 {
	ids := m.Tokenizer.EOS()
	for _, id := range m.Config.EOS {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}
