// Command arbor is Arbor's one binary: it makes model files, tokenizes, generates, serves the
// OpenAI-compatible API, and runs reasoning benchmarks against any OpenAI-compatible endpoint.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `arbor: a long-context reasoning runtime

Usage:
  arbor generate [--model PATH] (--prompt TEXT | --prompt-ids JSON) [flags]   generate text
  arbor serve [--model PATH] [--addr HOST:PORT] [--api-key KEY ...] [flags]      serve the OpenAI-compatible API
  arbor tokenize [--model PATH | --tokenizer FILE]                           token ids of stdin
  arbor model new --shape NAME --dtype TYPE --out PATH [--tokenizer FILE]    write a random-weight model
  arbor model shapes                                                         list the shapes
  arbor delta calibrate --model PATH --data FILE --out CONFIG [flags]        place DELTA's select layers
  arbor delta eval --model PATH --data FILE [--sparse-config FILE] [flags]   sparse attention's error
  arbor memory export DIR FILE | arbor memory import DIR FILE                back up or restore a memory store
  arbor eval run|grade|rescore|report|compare ...                            reasoning benchmarks against any endpoint
  arbor train demo --out DIR [flags]                                         train the demo model (CPU)

Without --model, arbor uses its built-in demo model: a small model it trained to solve arithmetic
word problems with a calculator (arbor serve answers in task trees with it by default).
Run "arbor COMMAND -h" for a command's flags.
`

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "arbor: %v\n", err)
		os.Exit(1)
	}
}

// run dispatches a command line; it is main without the process, so tests can call it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "generate":
		return cmdGenerate(args[1:], stdout, stderr)
	case "serve":
		return cmdServe(args[1:], stderr)
	case "tokenize":
		return cmdTokenize(args[1:], stdin, stdout, stderr)
	case "bench":
		return cmdBench(args[1:], stdout, stderr)
	case "delta":
		return cmdDelta(args[1:], stdout, stderr)
	case "memory":
		return cmdMemory(args[1:], stdout, stderr)
	case "eval":
		return cmdEval(args[1:], stdin, stdout, stderr)
	case "train":
		return cmdTrain(args[1:], stderr)
	case "model":
		if len(args) < 2 {
			return errors.New("model: want a subcommand: new, shapes")
		}
		switch args[1] {
		case "new":
			return cmdModelNew(args[2:], stdout, stderr)
		case "shapes":
			return cmdModelShapes(stdout)
		}
		return fmt.Errorf("model: unknown subcommand %q (want new or shapes)", args[1])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// newFlags makes a flag set that reports errors to the caller instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("arbor "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses and refuses stray positional arguments, which are nearly always a
// mistyped flag.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// flagGiven reports whether the command line set the flag name (a default left alone is not).
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
