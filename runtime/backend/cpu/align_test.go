package cpu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKernelsAligned: every function of the amd64 assembly ends with PCALIGN $2048, so that the
// linker starts each kernel on a 2 KiB boundary whatever code precedes it, and no kernel
// shorter than that straddles a 4 KiB boundary (see align_functions in asmalign.py: the
// kernels' speed moved by 5 to 15% between builds with where their loops fell).
func TestKernelsAligned(t *testing.T) {
	files, err := filepath.Glob("*_amd64.s")
	if err != nil || len(files) == 0 {
		t.Fatalf("no amd64 assembly found: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fn := ""
		aligned := true
		for i, line := range strings.Split(string(src), "\n") {
			switch {
			case strings.HasPrefix(line, "TEXT "):
				if fn != "" && !aligned {
					t.Errorf("%s: %s does not end with PCALIGN $2048 (next function at line %d)", f, fn, i+1)
				}
				fn, aligned = strings.Fields(line)[1], false
			case strings.TrimSpace(line) == "PCALIGN $2048":
				aligned = true
			case strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "//") &&
				!strings.HasPrefix(line, "DATA ") && !strings.HasPrefix(line, "GLOBL ") &&
				!strings.HasPrefix(line, "#"):
				aligned = false // an instruction after the PCALIGN
			}
		}
		if fn != "" && !aligned {
			t.Errorf("%s: its last function, %s, does not end with PCALIGN $2048", f, fn)
		}
	}
}
