//go:build !linux

package main

import (
	"os/exec"
	"time"
)

// setDeathSignal does nothing outside Linux: the benchmark stops its servers itself.
func setDeathSignal(cmd *exec.Cmd) {}

// selfCPU is unknown outside Linux.
func selfCPU() time.Duration { return -1 }

// procCPU is unknown outside Linux.
func procCPU(pid int) time.Duration { return -1 }
