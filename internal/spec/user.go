package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/moby/sys/user"
)

// checkIDName validates one side of user[:group] or a --group-add value: a
// name, or a number from 0 to 2147483647.
func checkIDName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("%s %q contains whitespace or control characters", what, s)
	case strings.ContainsRune(s, ':'):
		return fmt.Errorf("%s %q contains ':'", what, s)
	}
	if s[0] >= '0' && s[0] <= '9' || s[0] == '-' || s[0] == '+' {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil && (n < 0 || n > math.MaxInt32) {
			return fmt.Errorf("%s %q is out of range (0 to %d)", what, s, math.MaxInt32)
		}
		if err != nil && errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%s %q is out of range (0 to %d)", what, s, math.MaxInt32)
		}
	}
	return nil
}

// ValidateUser checks the syntax of a -u/--user value (or an image's User):
// empty, or user[:group] where each side is a name or a number from 0 to
// 2147483647. Whether names exist is ResolveUser's business.
func ValidateUser(s string) error {
	if s == "" {
		return nil
	}
	u, g, hasGroup := strings.Cut(s, ":")
	if err := checkIDName("user", u); err != nil {
		return invalid("user %q: %v", s, err)
	}
	if hasGroup {
		if err := checkIDName("group", g); err != nil {
			return invalid("user %q: %v", s, err)
		}
	}
	return nil
}

// ValidateGroup checks the syntax of a --group-add value: a group name or a
// number from 0 to 2147483647.
func ValidateGroup(s string) error {
	if err := checkIDName("group", s); err != nil {
		return invalid("group %q: %v", s, err)
	}
	return nil
}

// ResolveUser resolves a -u/--user value (user[:group], names or numbers)
// and --group-add values against the container's /etc/passwd and /etc/group
// as Docker does. The files are read inside rootfs with symlinks resolved
// as if rootfs were "/", so a link in the image cannot make cove read a host
// file; an empty rootfs means the image has no such files.
//
//   - "" is uid 0; the gid, home and groups come from uid 0's passwd entry.
//   - A numeric user need not exist in passwd; a name must, else the error
//     reads "unable to find user NAME: no matching entries in passwd file".
//   - The gid is the explicit group if given (a name must exist in
//     /etc/group, a number need not), else the passwd entry's, else 0.
//   - additional starts with gid; then, when no group was given, the groups
//     that list the user as a member; then the --group-add groups. No
//     duplicates.
//   - home is the passwd entry's home directory, or "/".
//
// All lookup failures are of class errdefs.ErrInvalidArgument.
func ResolveUser(rootfs, spec string, groupAdd []string) (uid, gid uint32, additional []uint32, home string, err error) {
	if err := ValidateUser(spec); err != nil {
		return 0, 0, nil, "", err
	}
	for _, g := range groupAdd {
		if err := ValidateGroup(g); err != nil {
			return 0, 0, nil, "", err
		}
	}
	var passwd, group []byte
	if rootfs != "" {
		if passwd, err = readRootFile(rootfs, "/etc/passwd"); err != nil {
			return 0, 0, nil, "", err
		}
		if group, err = readRootFile(rootfs, "/etc/group"); err != nil {
			return 0, 0, nil, "", err
		}
	}
	eu, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, reader(passwd), reader(group))
	if err != nil {
		return 0, 0, nil, "", invalid("user %q: %w", spec, err)
	}
	seen := map[uint32]bool{}
	add := func(id int) {
		if !seen[uint32(id)] {
			seen[uint32(id)] = true
			additional = append(additional, uint32(id))
		}
	}
	add(eu.Gid)
	for _, g := range eu.Sgids {
		add(g)
	}
	for _, ga := range groupAdd {
		ids, err := user.GetAdditionalGroups([]string{ga}, reader(group))
		if err != nil {
			return 0, 0, nil, "", invalid("group %q: %w", ga, err)
		}
		for _, id := range ids {
			add(id)
		}
	}
	home = eu.Home
	if home == "" {
		home = "/"
	}
	return uint32(eu.Uid), uint32(eu.Gid), additional, home, nil
}

// reader returns a nil interface for a missing file, which the user
// package treats as "no entries".
func reader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}
