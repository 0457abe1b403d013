package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// TestLongContextFlags parses --kv-dtype and the --sparse flags as serve, generate and bench
// do, and resolves the sparse config for a 12-layer model: defaults, overrides, a config file,
// and every refusal naming its flag.
func TestLongContextFlags(t *testing.T) {
	const layers = 12
	dir := t.TempDir()
	file := sparse.DefaultConfig(layers)
	file.Layers[layers-1] = sparse.Full // differs from the default placement
	file.Budget, file.Recent = 10, 3
	good := filepath.Join(dir, "delta.json")
	b, _ := json.Marshal(file)
	if err := os.WriteFile(good, b, 0o644); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong.json")
	b, _ = json.Marshal(sparse.DefaultConfig(layers + 2))
	if err := os.WriteFile(wrong, b, 0o644); err != nil {
		t.Fatal(err)
	}
	garbled := filepath.Join(dir, "garbled.json")
	if err := os.WriteFile(garbled, []byte(`{"layers": ["full", "dense"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	def := sparse.DefaultConfig(layers)
	with := func(c sparse.Config, budget, recent int) *sparse.Config {
		c.Budget, c.Recent = budget, recent
		return &c
	}
	for _, c := range []struct {
		args    []string
		kv      backend.KVType
		want    *sparse.Config
		errFlag string // the flag the error must name; "" for none
	}{
		{nil, backend.KVF16, nil, ""},
		{[]string{"--kv-dtype", "f32"}, backend.KVF32, nil, ""},
		{[]string{"--kv-dtype", "f16", "--sparse", "none"}, backend.KVF16, nil, ""},
		{[]string{"--sparse", "delta"}, backend.KVF16, &def, ""},
		{[]string{"--sparse", "delta", "--sparse-budget", "16", "--sparse-recent", "4"}, backend.KVF16,
			with(def, 16, 4), ""},
		{[]string{"--sparse", "delta", "--sparse-config", good}, backend.KVF16, &file, ""},
		{[]string{"--sparse", "delta", "--sparse-config", good, "--sparse-budget", "20"}, backend.KVF16,
			with(file, 20, 3), ""},
		{[]string{"--kv-dtype", "bf16"}, 0, nil, "--kv-dtype"},
		{[]string{"--sparse", "dense"}, 0, nil, "--sparse"},
		{[]string{"--sparse-budget", "5"}, 0, nil, "--sparse-budget"},
		{[]string{"--sparse-recent", "5"}, 0, nil, "--sparse-recent"},
		{[]string{"--sparse-config", good}, 0, nil, "--sparse-config"},
		{[]string{"--sparse", "delta", "--sparse-budget", "-1"}, 0, nil, "--sparse-budget"},
		{[]string{"--sparse", "delta", "--sparse-recent", "-2"}, 0, nil, "--sparse-recent"},
		{[]string{"--sparse", "delta", "--sparse-config", filepath.Join(dir, "none.json")}, 0, nil, "--sparse-config"},
		{[]string{"--sparse", "delta", "--sparse-config", garbled}, 0, nil, "--sparse-config"},
		// Valid JSON, but for a model of another depth: refused against the model.
		{[]string{"--sparse", "delta", "--sparse-config", wrong}, 0, nil, "--sparse-config"},
	} {
		fs := newFlags("test", io.Discard)
		long := addLongContextFlags(fs)
		if err := parseFlags(fs, c.args); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		err := long.check()
		var got *sparse.Config
		if err == nil {
			got, err = long.sparseConfig(layers)
		}
		if c.errFlag != "" {
			if err == nil || !strings.Contains(err.Error(), c.errFlag) {
				t.Errorf("%v: err %v, want one naming %s", c.args, err, c.errFlag)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", c.args, err)
			continue
		}
		if long.kv != c.kv || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: kv %v, sparse %+v; want %v, %+v", c.args, long.kv, got, c.kv, c.want)
		}
	}
}

// TestGenerateAndBenchLongContextFlags runs generate and bench with an f32 cache and sparse
// attention on the tiny shape: both accept them and say so in their JSON; a config that does
// not fit the model fails at start-up, naming the flag.
func TestGenerateAndBenchLongContextFlags(t *testing.T) {
	path := tinyModel(t)
	stdout, stderr, err := arbor(t, "", "generate", "--model", path, "--prompt", "Hello there", "--temperature", "0",
		"--max-tokens", "4", "--json", "--kv-dtype", "f32", "--sparse", "delta", "--sparse-budget", "2")
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	var gen struct {
		IDs    []int32 `json:"ids"`
		Sparse bool    `json:"sparse_attention"`
	}
	if err := json.Unmarshal([]byte(stdout), &gen); err != nil || len(gen.IDs) != 4 || !gen.Sparse {
		t.Fatalf("generate --sparse delta: %+v %v in %q", gen, err, stdout)
	}

	stdout, stderr, err = arbor(t, "", "bench", "--model", path, "--prompt-tokens", "5", "--new-tokens", "2",
		"--bandwidth-mb", "0", "--threads", "2", "--kv-dtype", "f32", "--sparse", "delta", "--sparse-recent", "3")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	var res struct {
		KV     string `json:"kv_dtype"`
		Sparse string `json:"sparse"`
		Budget int    `json:"sparse_budget"`
		Recent int    `json:"sparse_recent"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	if res.KV != "f32" || res.Sparse != "delta" || res.Budget != sparse.DefaultBudget || res.Recent != 3 {
		t.Fatalf("bench --kv-dtype f32 --sparse delta: %+v", res)
	}
	if !strings.Contains(stderr, "f32 KV cache") {
		t.Fatalf("bench's text does not name the KV type:\n%s", stderr)
	}
	stdout, _, err = arbor(t, "", "bench", "--model", path, "--prompt-tokens", "5", "--new-tokens", "1",
		"--bandwidth-mb", "0", "--threads", "2")
	if err != nil || !strings.Contains(stdout, `"kv_dtype":"f16"`) || !strings.Contains(stdout, `"sparse":"none"`) {
		t.Fatalf("bench defaults: %v %s", err, stdout)
	}

	// The tiny shape has 2 layers; a 4-layer config is refused before anything runs.
	wrong := filepath.Join(t.TempDir(), "wrong.json")
	b, _ := json.Marshal(sparse.DefaultConfig(4))
	if err := os.WriteFile(wrong, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{
		{"generate", "--model", path, "--prompt", "Hi"},
		{"bench", "--model", path, "--bandwidth-mb", "0"},
	} {
		_, _, err := arbor(t, "", append(cmd, "--sparse", "delta", "--sparse-config", wrong)...)
		if err == nil || !strings.Contains(err.Error(), "--sparse-config") {
			t.Errorf("%s with a 4-layer config on a 2-layer model: err %v", cmd[0], err)
		}
	}
}
