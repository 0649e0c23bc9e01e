//go:build linux

package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LoadProfileJSON parses a Docker/OCI seccomp profile (the file given to
// --security-opt seccomp=PROFILE.json) and checks it, so that mistakes are
// reported when the file is read, not when the container starts. Errors name
// the entry and the problem (unknown action, operator, errno, flag, …).
//
// Docker's "minKernel" in an entry's includes/excludes (not represented in
// common's types) is evaluated here against the running kernel: an entry
// whose includes.minKernel is newer than the kernel, or whose
// excludes.minKernel is not, is removed from the returned profile.
//
// An empty profile ({} — no default action and no syscalls) is valid and
// means "no filter" (Compile returns nil).
func LoadProfileJSON(data []byte) (*Profile, error) {
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", describeJSONError(data, err))
	}
	// Validate before minKernel removes entries, so that error positions
	// (syscalls[i]) refer to the file.
	if err := ValidateProfile(&p); err != nil {
		return nil, err
	}
	if err := applyMinKernel(data, &p); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	return &p, nil
}

// ValidateProfile checks every field of p that Compile interprets, whether or
// not an entry applies to the current capabilities and architecture.
func ValidateProfile(p *Profile) error {
	if p == nil {
		return errors.New("seccomp profile: nil profile")
	}
	if p.DefaultAction == "" && len(p.Syscalls) == 0 {
		return nil
	}
	if err := validateTop(p); err != nil {
		return fmt.Errorf("seccomp profile: %w", err)
	}
	for i, s := range p.Syscalls {
		if s == nil {
			return fmt.Errorf("seccomp profile: syscalls[%d]: null entry", i)
		}
		names, err := syscallNames(s)
		if err == nil {
			_, err = actionValue(s.Action, s.Errno, s.ErrnoRet)
		}
		if err == nil {
			_, err = convertArgs(s.Args, 64)
		}
		if err != nil {
			label := ""
			if len(names) > 0 {
				label = fmt.Sprintf(" (%q)", names[0])
			} else if len(s.Names) > 0 {
				label = fmt.Sprintf(" (%q)", s.Names[0])
			}
			return fmt.Errorf("seccomp profile: syscalls[%d]%s: %w", i, label, err)
		}
	}
	return nil
}

// describeJSONError adds a line:column position to encoding/json errors.
func describeJSONError(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		if te.Field != "" {
			err = fmt.Errorf("field %q: cannot use JSON %s as %s", te.Field, te.Value, te.Type)
		}
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	// encoding/json's offsets point just past the offending byte (syntax
	// errors) or value (type errors); report the 1-based position of the
	// byte before it.
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := max(int(off)-bytes.LastIndexByte(data[:off], '\n')-1, 1)
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// kernelVersion returns the running kernel's major and minor version; a
// variable so tests can pin it.
var kernelVersion = func() (int, int, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return 0, 0, err
	}
	return parseKernelVersion(unix.ByteSliceToString(u.Release[:]))
}

// parseKernelVersion parses "6.18.44-foo" or Docker's "4.8" into (6, 18).
func parseKernelVersion(s string) (int, int, error) {
	s = strings.TrimSpace(s)
	end := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end >= 0 {
		s = s[:end]
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("bad kernel version %q", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return 0, 0, fmt.Errorf("bad kernel version %q", s)
	}
	return major, minor, nil
}

// applyMinKernel evaluates Docker's includes/excludes "minKernel".
func applyMinKernel(data []byte, p *Profile) error {
	var shadow struct {
		Syscalls []*struct {
			Includes struct {
				MinKernel *string `json:"minKernel"`
			} `json:"includes"`
			Excludes struct {
				MinKernel *string `json:"minKernel"`
			} `json:"excludes"`
		} `json:"syscalls"`
	}
	if err := json.Unmarshal(data, &shadow); err != nil {
		return describeJSONError(data, err)
	}
	if len(shadow.Syscalls) != len(p.Syscalls) {
		return nil // cannot happen: same input, same array
	}
	var kmaj, kmin int
	var kerr error
	haveKernel := false
	atLeast := func(v string) (bool, error) {
		maj, mnr, err := parseKernelVersion(v)
		if err != nil {
			return false, err
		}
		if !haveKernel {
			kmaj, kmin, kerr = kernelVersion()
			haveKernel = true
		}
		if kerr != nil {
			return false, fmt.Errorf("minKernel: cannot get the running kernel version: %w", kerr)
		}
		return kmaj > maj || (kmaj == maj && kmin >= mnr), nil
	}
	kept := p.Syscalls[:0]
	for i, s := range shadow.Syscalls {
		keep := true
		if s != nil && s.Includes.MinKernel != nil {
			ok, err := atLeast(*s.Includes.MinKernel)
			if err != nil {
				return fmt.Errorf("syscalls[%d]: includes.minKernel: %w", i, err)
			}
			keep = keep && ok
		}
		if s != nil && s.Excludes.MinKernel != nil {
			ok, err := atLeast(*s.Excludes.MinKernel)
			if err != nil {
				return fmt.Errorf("syscalls[%d]: excludes.minKernel: %w", i, err)
			}
			keep = keep && !ok
		}
		if keep {
			kept = append(kept, p.Syscalls[i])
		}
	}
	p.Syscalls = kept
	return nil
}
