//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package model

import "os"

// mapFile reads a whole file into memory (platforms without syscall.Mmap).
func mapFile(path string) (data []byte, release func() error, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
