package spec

import (
	"strconv"
	"strings"
)

// maxHostname is the kernel's limit on the UTS host name (__NEW_UTS_LEN).
const maxHostname = 64

// ValidateHostname checks a --hostname value: RFC 1123 labels (letters,
// digits and '-', not starting or ending with '-', 1 to 63 characters)
// separated by dots, at most 64 characters in all (the kernel's limit).
func ValidateHostname(h string) error {
	if h == "" {
		return invalid("hostname %q: empty", h)
	}
	if len(h) > maxHostname {
		return invalid("hostname %q: longer than %d characters", h, maxHostname)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return invalid("hostname %q: each dot-separated label must have 1 to 63 characters", h)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return invalid("hostname %q: a label cannot start or end with '-'", h)
		}
		for i := 0; i < len(label); i++ {
			if !isAlnum(label[i]) && label[i] != '-' {
				return invalid("hostname %q: only letters, digits, '-' and '.' are allowed", h)
			}
		}
	}
	return nil
}

// ValidateName checks a --name value with Docker's rule,
// [a-zA-Z0-9][a-zA-Z0-9_.-]+ (so at least two characters), and returns it
// without the optional leading '/' Docker also accepts.
func ValidateName(name string) (string, error) {
	n := strings.TrimPrefix(name, "/")
	ok := len(n) >= 2 && isAlnum(n[0])
	for i := 1; ok && i < len(n); i++ {
		c := n[i]
		ok = isAlnum(c) || c == '_' || c == '.' || c == '-'
	}
	if !ok {
		return "", invalid("container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters", name)
	}
	return n, nil
}

// Restart policy names.
const (
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartOnFailure     = "on-failure"
	RestartUnlessStopped = "unless-stopped"
)

// RestartPolicy is a parsed --restart value.
type RestartPolicy struct {
	Name string `json:"Name"`
	// MaximumRetryCount is the on-failure limit; 0 means no limit.
	MaximumRetryCount int `json:"MaximumRetryCount"`
}

// String formats p in the --restart syntax.
func (p RestartPolicy) String() string {
	if p.Name == RestartOnFailure && p.MaximumRetryCount > 0 {
		return p.Name + ":" + strconv.Itoa(p.MaximumRetryCount)
	}
	return p.Name
}

// ParseRestart parses a --restart value: no (also the empty string),
// always, unless-stopped, or on-failure[:N] with N >= 0. A count with any
// other policy is an error, as with Docker.
func ParseRestart(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	switch name {
	case "", RestartNo:
		name = RestartNo
	case RestartAlways, RestartUnlessStopped, RestartOnFailure:
	default:
		return RestartPolicy{}, invalid("restart policy %q: use no, always, unless-stopped or on-failure[:max-retries]", s)
	}
	p := RestartPolicy{Name: name}
	if !hasCount {
		return p, nil
	}
	if name != RestartOnFailure {
		return RestartPolicy{}, invalid("restart policy %q: a maximum retry count applies to on-failure only", s)
	}
	n, err := strconv.Atoi(count)
	if err != nil || count[0] == '+' || count[0] == '-' && n == 0 {
		return RestartPolicy{}, invalid("restart policy %q: %q is not a number", s, count)
	}
	if n < 0 {
		return RestartPolicy{}, invalid("restart policy %q: maximum retry count cannot be negative", s)
	}
	p.MaximumRetryCount = n
	return p, nil
}
