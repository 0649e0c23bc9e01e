package initproc

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// setUser switches to the spec's user: supplementary groups, then group,
// then user, each step while the previous one's privilege is still there
// (setgroups needs CAP_SETGID, which leaving uid 0 takes away).
//
// The syscall package's wrappers change every thread of the process (the
// kernel's set*id calls are per thread); only the exec thread matters in
// the end, but no thread should be left with root's credentials.
func setUser(uid, gid uint32, additional []uint32) error {
	gids := make([]int, len(additional))
	for i, g := range additional {
		gids[i] = int(g)
	}
	if setgroupsDenied() {
		// A single-ID user namespace is created with setgroups denied
		// (the kernel requires it for an unprivileged gid_map); the only
		// group list possible is the inherited one. The user's primary
		// group among its supplementary ones (root's [0], from most
		// images' /etc/group) is redundant: without that, no container
		// could run at all in a single-ID namespace.
		if len(withoutGroup(gids, int(gid))) > 0 {
			return fmt.Errorf("setting supplementary groups %v: setgroups is denied in this user namespace (a single-ID mapping cannot switch groups)", additional)
		}
	} else if err := syscall.Setgroups(gids); err != nil {
		return fmt.Errorf("setting supplementary groups %v: %w%s", additional, err, unmappedHint(err))
	}
	// PR_SET_KEEPCAPS: leaving uid 0 would otherwise empty the permitted
	// set, and the spec's capabilities could no longer be applied. Reset
	// after capset; execve resets it too.
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", err)
	}
	if err := syscall.Setresgid(int(gid), int(gid), int(gid)); err != nil {
		return fmt.Errorf("switching to group %d: %w%s", gid, err, unmappedHint(err))
	}
	if err := syscall.Setresuid(int(uid), int(uid), int(uid)); err != nil {
		return fmt.Errorf("switching to user %d: %w%s", uid, err, unmappedHint(err))
	}
	return nil
}

// unmappedHint explains EINVAL from set*id: the ID does not exist in the
// user namespace.
func unmappedHint(err error) string {
	if errors.Is(err, unix.EINVAL) {
		return " (the ID is not mapped in the user namespace; with a single-ID mapping only root exists)"
	}
	return ""
}

func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

// withoutGroup returns gids without g.
func withoutGroup(gids []int, g int) []int {
	var out []int
	for _, x := range gids {
		if x != g {
			out = append(out, x)
		}
	}
	return out
}
