package spec

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ulimitNames are the --ulimit names Docker accepts ("as" is not one).
var ulimitNames = map[string]bool{
	"core": true, "cpu": true, "data": true, "fsize": true, "locks": true,
	"memlock": true, "msgqueue": true, "nice": true, "nofile": true,
	"nproc": true, "rss": true, "rtprio": true, "rttime": true,
	"sigpending": true, "stack": true,
}

// Ulimit is one --ulimit: a resource limit by its lower-case name (nofile,
// nproc, ...). -1 means unlimited; Soft <= Hard unless Hard is unlimited.
type Ulimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

// String formats u in the --ulimit syntax, name=soft:hard.
func (u Ulimit) String() string {
	return fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard)
}

// Rlimit converts u to the OCI form (RLIMIT_NOFILE, ...); -1 becomes
// RLIM_INFINITY.
func (u Ulimit) Rlimit() specs.POSIXRlimit {
	return specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: uint64(u.Soft), Hard: uint64(u.Hard)}
}

// ParseUlimit parses a --ulimit value, NAME=SOFT[:HARD], with Docker's rules:
// NAME is one of core, cpu, data, fsize, locks, memlock, msgqueue, nice,
// nofile, nproc, rss, rtprio, rttime, sigpending, stack; a missing HARD
// equals SOFT; -1 or "unlimited" means no limit; SOFT may not exceed HARD,
// and an unlimited SOFT needs an unlimited HARD.
func ParseUlimit(s string) (Ulimit, error) {
	u, err := parseUlimit(s)
	if err != nil {
		return Ulimit{}, invalid("ulimit %q: %v", s, err)
	}
	return u, nil
}

func parseUlimit(s string) (Ulimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	if !ok {
		return Ulimit{}, errors.New("expected NAME=SOFT[:HARD]")
	}
	if !ulimitNames[name] {
		names := make([]string, 0, len(ulimitNames))
		for n := range ulimitNames {
			names = append(names, n)
		}
		sort.Strings(names)
		return Ulimit{}, fmt.Errorf("unknown limit %q (use one of %s)", name, strings.Join(names, ", "))
	}
	softS, hardS, hasHard := strings.Cut(vals, ":")
	soft, err := parseLimit(softS)
	if err != nil {
		return Ulimit{}, err
	}
	hard := soft
	if hasHard {
		if hard, err = parseLimit(hardS); err != nil {
			return Ulimit{}, err
		}
	}
	if hard != -1 {
		if soft == -1 {
			return Ulimit{}, fmt.Errorf("soft limit is unlimited but hard limit is %d", hard)
		}
		if soft > hard {
			return Ulimit{}, fmt.Errorf("soft limit %d is greater than hard limit %d", soft, hard)
		}
	}
	return Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

func parseLimit(s string) (int64, error) {
	if s == "unlimited" || s == "-1" {
		return -1, nil
	}
	if s == "" {
		return 0, errors.New("empty limit")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("limit %q is not a non-negative number, -1 or unlimited", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("limit %q is out of range", s)
	}
	return n, nil
}
