//go:build e2e

package e2e

import (
	"os"
	"syscall"
)

func statUID(st os.FileInfo) int { return int(st.Sys().(*syscall.Stat_t).Uid) }
