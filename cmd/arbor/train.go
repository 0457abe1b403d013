package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gomlx/gomlx/backends"

	"github.com/arborlabs/arbor/runtime/backend/xla"
	"github.com/arborlabs/arbor/train/recipe"
)

// cmdTrain is `arbor train demo --out DIR`: the built-in demo model's recipe, from data to
// model directory, on the CPU trainer (or through gomlx with --backend xla). Ctrl-C saves a
// checkpoint; the same command resumes.
func cmdTrain(args []string, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "demo" {
		return errors.New("train: usage: arbor train demo --out DIR [flags] (the demo model's recipe)")
	}
	fs := newFlags("train demo", stderr)
	var o recipe.Options
	fs.StringVar(&o.Out, "out", "", "the run's directory: checkpoint, loss.csv, loss.svg, and the model in DIR/model")
	fs.IntVar(&o.Problems, "problems", 64000, "training problems generated")
	seed := fs.Uint64("seed", 1, "the run's seed (data, tokenizer order, initial weights)")
	fs.IntVar(&o.Vocab, "vocab", 1024, "tokenizer vocabulary")
	fs.IntVar(&o.Layers, "layers", 4, "decoder layers")
	fs.IntVar(&o.Hidden, "hidden", 256, "hidden width")
	fs.IntVar(&o.Heads, "heads", 4, "attention heads")
	fs.IntVar(&o.FFN, "ffn", 688, "MLP width")
	fs.IntVar(&o.SeqLen, "seq-len", 768, "tokens per training row")
	fs.IntVar(&o.Batch, "batch", 8, "rows per step")
	fs.Float64Var(&o.Epochs, "epochs", 1, "passes over the rows")
	fs.IntVar(&o.Steps, "steps", 0, "steps (overrides --epochs)")
	fs.Float64Var(&o.LR, "lr", 2e-3, "peak learning rate (linear warmup, cosine to a tenth)")
	fs.IntVar(&o.Warmup, "warmup", 100, "warmup steps")
	fs.IntVar(&o.CheckpointEvery, "checkpoint-every", 200, "steps between checkpoints")
	be := fs.String("backend", "cpu", "the trainer: cpu (Arbor's kernels) or xla (gomlx: the xla backend's loss graph, "+
		"gomlx's autodiff and Adam, on gomlx's pure-Go engine unless GOMLX_BACKEND names a PJRT plugin in a binary "+
		"built with -tags pjrt, e.g. for a GPU)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if o.Out == "" {
		return errors.New("train demo: --out DIR is required")
	}
	switch *be {
	case "cpu":
	case "xla":
		// As for serving: gomlx must never fetch a PJRT plugin at run time.
		if err := os.Setenv("GOMLX_NO_AUTO_INSTALL", "1"); err != nil {
			return fmt.Errorf("train demo: %w", err)
		}
		conf := os.Getenv("GOMLX_BACKEND")
		if conf == "" {
			conf = xla.DefaultBackend
		}
		b, err := backends.NewWithConfig(conf)
		if err != nil {
			return fmt.Errorf("train demo: gomlx backend %q (this binary registers %q%s): %w", conf, xla.Backends(), pjrtHint(), err)
		}
		defer b.Finalize()
		o.XLA = b
	default:
		return fmt.Errorf("train demo: --backend %q: want cpu or xla", *be)
	}
	o.Seed = *seed
	o.Progress = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := recipe.Demo(ctx, o); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "\ninterrupted: the checkpoint is saved; run the same command again to resume")
		}
		return fmt.Errorf("train demo: %w", err)
	}
	fmt.Fprintf(stderr, "wrote %s/model (serve it: arbor serve --model %s/model --tree)\n", o.Out, o.Out)
	return nil
}
