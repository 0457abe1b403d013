//go:build unix

package memory

import (
	"io/fs"
	"syscall"
)

// allocatedBytes is the space a file occupies on disk (st_blocks are 512-byte units whatever
// the filesystem's block size), which for Badger's sparse preallocated files is far less than
// their size.
func allocatedBytes(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return info.Size()
}
