package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/backend/xla"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// backendHelp is the --backend flag's usage text.
const backendHelp = "the backend: cpu (Go kernels, the default) or xla (gomlx graphs: on gomlx's pure-Go " +
	"engine unless GOMLX_BACKEND names a PJRT plugin in a binary built with -tags pjrt)"

// newBackend builds the named backend over m with numPages KV pages of pageSize slots of kvType
// elements.
func newBackend(kind string, m *model.Model, threads, pageSize, numPages int, kvType backend.KVType) (backend.Backend, error) {
	switch kind {
	case "", "cpu":
		be, err := cpu.New(m, cpu.Options{Threads: threads, PageSize: pageSize, NumPages: numPages, KV: kvType})
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
		be, err := xla.New(m, xla.Options{Backend: conf, PageSize: pageSize, NumPages: numPages, KV: kvType})
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

// longContextFlags are the flags serve, generate and bench share for long contexts: the KV
// cache's element type and DELTA sparse attention.
type longContextFlags struct {
	kvDType        *string
	mode           *string
	configPath     *string
	budget, recent *int

	// Set by check.
	kv      backend.KVType
	fileCfg *sparse.Config
}

func addLongContextFlags(fs *flag.FlagSet) *longContextFlags {
	return &longContextFlags{
		kvDType: fs.String("kv-dtype", "f16", "the KV cache's element type: f16 (half the memory and the bytes "+
			"a decode step reads) or f32"),
		mode: fs.String("sparse", "none", "sparse attention for long decodes: none, or delta (DELTA: a few "+
			"layers pick the KV pages the others attend to)"),
		configPath: fs.String("sparse-config", "", "with --sparse delta: a JSON file of layer modes, budget and "+
			"recent (as a calibration writes it); default: the model's default placement"),
		budget: fs.Int("sparse-budget", 0, "with --sparse delta: the best-scored KV pages kept besides the recent "+
			"ones (0: the config's, "+fmt.Sprint(sparse.DefaultBudget)+" by default)"),
		recent: fs.Int("sparse-recent", 0, "with --sparse delta: the last KV pages always kept (0: the config's, "+
			fmt.Sprint(sparse.DefaultRecent)+" by default)"),
	}
}

// check validates what can be checked before the model is loaded (a mistyped flag fails at
// once, not after a minutes-long load) and reads --sparse-config. Errors name the flag.
func (f *longContextFlags) check() error {
	kv, err := backend.ParseKVType(*f.kvDType)
	if err != nil {
		return fmt.Errorf("--kv-dtype: %w", err)
	}
	f.kv = kv
	switch *f.mode {
	case "none":
		switch {
		case *f.configPath != "":
			return fmt.Errorf("--sparse-config needs --sparse delta")
		case *f.budget != 0:
			return fmt.Errorf("--sparse-budget needs --sparse delta")
		case *f.recent != 0:
			return fmt.Errorf("--sparse-recent needs --sparse delta")
		}
		return nil
	case "delta":
	default:
		return fmt.Errorf("--sparse %q: want none or delta", *f.mode)
	}
	if *f.budget < 0 {
		return fmt.Errorf("--sparse-budget %d: want a positive number of pages (0: the config's)", *f.budget)
	}
	if *f.recent < 0 {
		return fmt.Errorf("--sparse-recent %d: want a positive number of pages (0: the config's)", *f.recent)
	}
	if *f.configPath != "" {
		b, err := os.ReadFile(*f.configPath)
		if err != nil {
			return fmt.Errorf("--sparse-config: %w", err)
		}
		var c sparse.Config
		if err := json.Unmarshal(b, &c); err != nil {
			return fmt.Errorf("--sparse-config %s: %w", *f.configPath, err)
		}
		f.fileCfg = &c
	}
	return nil
}

// sparseConfig is the sparse-attention config for a model of numLayers layers, validated
// against it: nil for --sparse none; otherwise --sparse-config's, or the default placement,
// with --sparse-budget and --sparse-recent overriding. check must have run.
func (f *longContextFlags) sparseConfig(numLayers int) (*sparse.Config, error) {
	if *f.mode != "delta" {
		return nil, nil
	}
	var c sparse.Config
	from := "--sparse delta"
	if f.fileCfg != nil {
		c = *f.fileCfg
		c.Layers = append([]sparse.Mode(nil), f.fileCfg.Layers...)
		from = "--sparse-config " + *f.configPath
	} else {
		c = sparse.DefaultConfig(numLayers)
	}
	if *f.budget > 0 {
		c.Budget = *f.budget
	}
	if *f.recent > 0 {
		c.Recent = *f.recent
	}
	if err := c.Validate(numLayers); err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return &c, nil
}

// describeSparse names the setting for logs and bench output: "none", or "delta" with its
// budget and recent pages.
func describeSparse(c *sparse.Config) string {
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("delta (budget %d, recent %d pages)", c.Budget, c.Recent)
}
