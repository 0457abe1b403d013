package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/memory"
)

// TestMemoryExportImport: a store's sessions survive `arbor memory export` and `import` into a
// fresh directory; a store in use, a non-empty target and bad usage are refused.
func TestMemoryExportImport(t *testing.T) {
	dir, dir2 := t.TempDir(), t.TempDir()
	backup := filepath.Join(t.TempDir(), "memory.bak")
	ctx := context.Background()
	owner := memory.OwnerOf("key-1")
	st, err := memory.OpenBadger(dir, memory.Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateOrGetSession(ctx, owner, "trip-planning"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendTurn(ctx, owner, "trip-planning", memory.Turn{User: "My flight to Oslo is on Friday.",
		Reply: "Noted."}, nil); err != nil {
		t.Fatal(err)
	}
	// While the store is open, the command cannot open it.
	if _, _, err := arbor(t, "", "memory", "export", dir, backup); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("export of a store in use: %v", err)
	}
	st.Close()

	out, _, err := arbor(t, "", "memory", "export", dir, backup)
	if err != nil || !strings.Contains(out, "1 sessions") {
		t.Fatalf("export: %q, %v", out, err)
	}
	if _, err := os.Stat(backup + ".partial"); !os.IsNotExist(err) {
		t.Fatalf("a partial backup left behind: %v", err)
	}
	if out, _, err := arbor(t, "", "memory", "import", dir2, backup); err != nil || !strings.Contains(out, "1 sessions") {
		t.Fatalf("import: %q, %v", out, err)
	}
	if _, _, err := arbor(t, "", "memory", "import", dir2, backup); err == nil {
		t.Fatal("an import into a store that holds data was accepted")
	}
	st2, err := memory.OpenBadger(dir2, memory.Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	turns, err := st2.Turns(ctx, owner, "trip-planning", 0, 10)
	if err != nil || len(turns) != 1 || turns[0].User != "My flight to Oslo is on Friday." {
		t.Fatalf("restored turns %+v, %v", turns, err)
	}
	for _, bad := range [][]string{{"memory"}, {"memory", "dump", dir, backup}, {"memory", "export", dir}} {
		if _, _, err := arbor(t, "", bad...); err == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
}
