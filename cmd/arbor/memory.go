package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/arborlabs/arbor/memory"
)

// cmdMemory is `arbor memory export DIR FILE` and `arbor memory import DIR FILE`: a backup of a
// memory store (Badger's backup stream) and its restore into an empty store. A store that a
// running server holds cannot be opened (the error says so): stop the server first.
func cmdMemory(args []string, stdout, stderr io.Writer) error {
	if len(args) != 3 || (args[0] != "export" && args[0] != "import") {
		return errors.New("memory: usage: arbor memory export DIR FILE | arbor memory import DIR FILE")
	}
	op, dir, file := args[0], args[1], args[2]
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := memory.OpenBadger(dir, memory.Options{GCInterval: -1, Logger: log})
	if err != nil {
		return fmt.Errorf("memory %s: %w", op, err)
	}
	defer st.Close()
	ctx := context.Background()
	if op == "export" {
		// Written beside the target and renamed: a failed export never leaves a truncated
		// backup under the name asked for.
		tmp := file + ".partial"
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("memory export: %w", err)
		}
		if err := st.Export(ctx, f); err != nil {
			f.Close()
			os.Remove(tmp)
			return fmt.Errorf("memory export: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			os.Remove(tmp)
			return fmt.Errorf("memory export: %w", err)
		}
		if err := f.Close(); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("memory export: %w", err)
		}
		if err := os.Rename(tmp, file); err != nil {
			return fmt.Errorf("memory export: %w", err)
		}
	} else {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("memory import: %w", err)
		}
		defer f.Close()
		if err := st.Import(ctx, f); err != nil {
			return fmt.Errorf("memory import: %w", err)
		}
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		return fmt.Errorf("memory %s: %w", op, err)
	}
	fmt.Fprintf(stdout, "memory %s: %d sessions, %d chunks\n", op, stats.Sessions, stats.Chunks)
	return nil
}
