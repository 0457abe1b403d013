//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package model

import (
	"fmt"
	"math"
	"os"
	"syscall"
)

// mapFile maps a whole file read-only. The returned release unmaps it; the bytes must not be
// used afterwards.
func mapFile(path string) (data []byte, release func() error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	if size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if size > math.MaxInt {
		return nil, nil, fmt.Errorf("%s: %d bytes is too large to map", path, size)
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// Some file systems refuse mmap; reading the file works everywhere.
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			return nil, nil, fmt.Errorf("mmap %s: %v; read: %w", path, err, rerr)
		}
		return b, func() error { return nil }, nil
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
