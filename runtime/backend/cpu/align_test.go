package cpu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKernelsAligned: every function of the amd64 assembly ends with PCALIGN $64, so that the
// linker starts each kernel on a 64-byte boundary whatever Go code precedes it (see
// align_functions in q8group_gen.py: with Go's 32-byte alignment the kernels' speed moved by
// 5 to 10% between builds).
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
					t.Errorf("%s: %s does not end with PCALIGN $64 (next function at line %d)", f, fn, i+1)
				}
				fn, aligned = strings.Fields(line)[1], false
			case strings.TrimSpace(line) == "PCALIGN $64":
				aligned = true
			case strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "//") &&
				!strings.HasPrefix(line, "DATA ") && !strings.HasPrefix(line, "GLOBL ") &&
				!strings.HasPrefix(line, "#"):
				aligned = false // an instruction after the PCALIGN
			}
		}
		if fn != "" && !aligned {
			t.Errorf("%s: its last function, %s, does not end with PCALIGN $64", f, fn)
		}
	}
}
