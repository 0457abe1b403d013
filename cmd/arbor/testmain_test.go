package main

import (
	"fmt"
	"os"
	"testing"
)

// TestMain points the default data directory at a temporary one, so that no test of arbor
// serve (memory is on by default) writes into the home directory of whoever runs the tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "arbor-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
