package config

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

func ownedPrivateDir(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New("not a directory")
	}
	return ownedPrivateDirInfo(st)
}

// ownedPrivateDirInfo checks that the directory belongs to the current user
// as this process sees it (inside cove's user namespace the invoking user is
// uid 0, and so is the directory) and that nobody else can write to it.
func ownedPrivateDirInfo(st os.FileInfo) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("owned by uid %d, not by us", sys.Uid)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("writable by others (mode %o)", st.Mode().Perm())
	}
	return nil
}
