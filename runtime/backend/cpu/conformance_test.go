package cpu_test

import (
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/conformance"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/model"
)

// TestConformance runs the backend suite on the cpu backend: its paged, incremental forward
// passes (decode, mixed batches, reused pages, pruned spans with and without re-rotated keys)
// against one dense prefill of the same live tokens, with f32 and f16 caches, and its sparse
// attention against the suite's reference.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(m *model.Model, numPages, pageSize int, kt backend.KVType) (backend.Backend, error) {
		return cpu.New(m, cpu.Options{Threads: 2, NumPages: numPages, PageSize: pageSize, KV: kt})
	}, conformance.Options{})
}
