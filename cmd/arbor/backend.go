package main

import (
	"fmt"
	"os"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/backend/xla"
	"github.com/arborlabs/arbor/runtime/model"
)

// backendHelp is the --backend flag's usage text.
const backendHelp = "the backend: cpu (Go kernels, the default) or xla (gomlx graphs: on gomlx's pure-Go " +
	"engine unless GOMLX_BACKEND names a PJRT plugin in a binary built with -tags pjrt)"

// newBackend builds the named backend over m with numPages KV pages of pageSize slots.
func newBackend(kind string, m *model.Model, threads, pageSize, numPages int) (backend.Backend, error) {
	switch kind {
	case "", "cpu":
		be, err := cpu.New(m, cpu.Options{Threads: threads, PageSize: pageSize, NumPages: numPages})
		if err != nil {
			return nil, err
		}
		return be, nil
	case "xla":
		// gomlx must never fetch a PJRT plugin at run time (these machines cannot, and a
		// server should not): a plugin is the operator's to install.
		if err := os.Setenv("GOMLX_NO_AUTO_INSTALL", "1"); err != nil {
			return nil, fmt.Errorf("xla backend: %w", err)
		}
		conf := os.Getenv("GOMLX_BACKEND")
		be, err := xla.New(m, xla.Options{Backend: conf, PageSize: pageSize, NumPages: numPages})
		if err != nil {
			return nil, fmt.Errorf("xla backend (GOMLX_BACKEND=%q, PJRT_PLUGIN_LIBRARY_PATH=%q; this binary "+
				"registers the gomlx backends %q, and never downloads a plugin%s): %w",
				conf, os.Getenv("PJRT_PLUGIN_LIBRARY_PATH"), xla.Backends(), pjrtHint(), err)
		}
		return be, nil
	}
	return nil, fmt.Errorf("--backend %q: want cpu or xla", kind)
}

// pjrtHint says how to get gomlx's XLA backend into a binary that lacks it.
func pjrtHint() string {
	for _, b := range xla.Backends() {
		if b == "xla" {
			return ""
		}
	}
	return "; build with -tags pjrt (cgo) for XLA through a PJRT plugin, e.g. CUDA"
}
