//go:build amd64 && !purego

package cpu

import (
	"debug/elf"
	"debug/gosym"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// asmFunc holds the names of the package's amd64 assembly functions, read from its .s files.
var asmFunc = func() map[string]bool {
	m := map[string]bool{}
	files, _ := filepath.Glob("*_amd64.s")
	re := regexp.MustCompile(`(?m)^TEXT ·(\w+)\(SB\)`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, sub := range re.FindAllStringSubmatch(string(src), -1) {
			m[sub[1]] = true
		}
	}
	return m
}()

// TestKernelsPlaced: in the binary the linker built (this test's own), every amd64 kernel of
// the package starts on a 2 KiB boundary, and none shorter than 2 KiB straddles a 4 KiB
// boundary of the code, which slowed a kernel's loop by 10 to 15% (asmalign.py). The source
// check (TestKernelsAligned) says the PCALIGN is there; this one says the linker honoured it.
func TestKernelsPlaced(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("no executable path: %v", err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Skipf("cannot read this binary as ELF: %v", err)
	}
	defer f.Close()
	// go test strips the symbol table; the runtime's own table of functions (pclntab) stays.
	sec, text := f.Section(".gopclntab"), f.Section(".text")
	if sec == nil || text == nil {
		t.Skip("no .gopclntab or .text section in this binary")
	}
	data, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "github.com/arborlabs/arbor/runtime/backend/cpu."
	n := 0
	for _, fn := range tab.Funcs {
		if !strings.HasPrefix(fn.Name, prefix) || !asmFunc[strings.TrimSuffix(strings.TrimPrefix(fn.Name, prefix), ".abi0")] {
			continue
		}
		n++
		size := fn.End - fn.Entry
		if fn.Entry%2048 != 0 {
			t.Errorf("%s starts at %#x, not on a 2 KiB boundary", fn.Name, fn.Entry)
		}
		if size <= 2048 && fn.Entry/4096 != (fn.Entry+size-1)/4096 {
			t.Errorf("%s (%d bytes at %#x) straddles a 4 KiB boundary", fn.Name, size, fn.Entry)
		}
	}
	t.Logf("%d of %d assembly functions checked", n, len(asmFunc))
	if n < len(asmFunc)/2 {
		t.Fatalf("found %d of the package's %d assembly functions in the binary's function table", n, len(asmFunc))
	}
}
