package spec

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Real-time signal range as the C library presents it (glibc reserves 32
// and 33), which is what Docker's RTMIN/RTMAX names mean.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// ParseSignal parses a --stop-signal value (or an image's StopSignal): a
// number from 1 to 64, or a name with or without "SIG", in any case (TERM,
// SIGKILL, sigusr1), including RTMIN, RTMIN+N and RTMAX-N.
func ParseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return 0, invalid("stop signal %q: empty", s)
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > sigRTMax {
			return 0, invalid("stop signal %q: a signal number is 1 to %d", s, sigRTMax)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if alias, ok := signalAliases[name]; ok {
		name = alias
	}
	if n, ok := rtSignal(name); ok {
		return syscall.Signal(n), nil
	}
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	return 0, invalid("stop signal %q: unknown signal", s)
}

// signalAliases are the Linux synonyms that unix.SignalNum does not know.
var signalAliases = map[string]string{"CLD": "CHLD", "IOT": "ABRT", "POLL": "IO"}

func rtSignal(name string) (int, bool) {
	var base, sign int
	var rest string
	switch {
	case strings.HasPrefix(name, "RTMIN"):
		base, sign, rest = sigRTMin, 1, name[len("RTMIN"):]
	case strings.HasPrefix(name, "RTMAX"):
		base, sign, rest = sigRTMax, -1, name[len("RTMAX"):]
	default:
		return 0, false
	}
	if rest == "" {
		return base, true
	}
	want := "+"
	if sign < 0 {
		want = "-"
	}
	if !strings.HasPrefix(rest, want) {
		return 0, false
	}
	n, err := strconv.Atoi(rest[1:])
	if err != nil || n < 0 || rest[1] == '+' || rest[1] == '-' {
		return 0, false
	}
	v := base + sign*n
	if v < sigRTMin || v > sigRTMax {
		return 0, false
	}
	return v, true
}

// StopSignal returns the signal that stops the container: the --stop-signal
// value if given, else the image's StopSignal, else SIGTERM.
func StopSignal(flag, image string) (syscall.Signal, error) {
	switch {
	case flag != "":
		return ParseSignal(flag)
	case image != "":
		return ParseSignal(image)
	}
	return unix.SIGTERM, nil
}
