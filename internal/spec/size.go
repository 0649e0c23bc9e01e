package spec

import (
	"errors"
	"math"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// DefaultShmSize is the size of /dev/shm when --shm-size is not given
// (Docker's 64m).
const DefaultShmSize int64 = 64 << 20

// ParseShmSize parses a --shm-size value such as "64m", "1g" or "512MiB"
// (binary units, as Docker's go-units RAMInBytes). Zero means the default,
// DefaultShmSize.
func ParseShmSize(s string) (int64, error) {
	n, err := parseBytes(s)
	if err != nil {
		return 0, invalid("shm size %q: %v", s, err)
	}
	return n, nil
}

// parseBytes accepts what units.RAMInBytes accepts (a decimal number, an
// optional space, an optional b/k/m/g/t/p suffix with an optional "b" or
// "ib") but checks the syntax strictly first, so that exponents, hex floats
// and values past int64 are refused instead of wrapping around.
func parseBytes(s string) (int64, error) {
	i := 0
	dot := false
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' && !dot) {
		if s[i] == '.' {
			dot = true
		}
		i++
	}
	num, sfx := s[:i], s[i:]
	if num == "" || num[0] == '.' || num[len(num)-1] == '.' {
		return 0, errors.New("expected a number with an optional unit (b, k, m, g, t, p)")
	}
	sfx = strings.TrimPrefix(sfx, " ")
	mult, ok := sizeUnit(strings.ToLower(sfx))
	if !ok {
		return 0, errors.New("unknown unit " + strconv.Quote(sfx) + " (use b, k, m, g, t or p)")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f*mult >= math.MaxInt64 {
		return 0, errors.New("size is too large")
	}
	n, err := units.RAMInBytes(s)
	if err != nil || n < 0 {
		return 0, errors.New("size is too large")
	}
	return n, nil
}

// sizeUnit returns the multiplier of a lower-case size suffix.
func sizeUnit(sfx string) (float64, bool) {
	if sfx == "" || sfx == "b" {
		return 1, true
	}
	var m float64
	switch sfx[0] {
	case 'k':
		m = 1 << 10
	case 'm':
		m = 1 << 20
	case 'g':
		m = 1 << 30
	case 't':
		m = 1 << 40
	case 'p':
		m = 1 << 50
	default:
		return 0, false
	}
	switch sfx[1:] {
	case "", "b", "ib":
		return m, true
	}
	return 0, false
}
