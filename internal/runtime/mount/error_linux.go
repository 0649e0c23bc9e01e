package mount

import (
	"fmt"
	"strings"
)

// Error is a failed mount-related system call. Target is the path as the
// container will see it, which is what the user wrote in the spec.
type Error struct {
	// Op is the step: "mounting", "bind mounting", "remounting",
	// "changing propagation of", ...
	Op     string
	Source string
	Target string
	FSType string
	Flags  uintptr
	Data   string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteByte(' ')
	switch {
	case e.Source != "" && e.Op == "bind mounting":
		fmt.Fprintf(&b, "%s on %s", e.Source, e.Target)
	case e.FSType != "":
		fmt.Fprintf(&b, "%s at %s", e.FSType, e.Target)
	default:
		b.WriteString(e.Target)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	var detail []string
	if e.Flags != 0 {
		detail = append(detail, "flags "+flagNames(e.Flags))
	}
	if e.Data != "" {
		detail = append(detail, "data "+e.Data)
	}
	if len(detail) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(detail, "; "))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
