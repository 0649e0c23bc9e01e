// Package idmap reads subordinate ID ranges (/etc/subuid, /etc/subgid) and
// reads and formats kernel ID maps (/proc/PID/uid_map).
package idmap

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Range is a contiguous block of subordinate IDs.
type Range struct {
	Start  int
	Length int
}

// Mapping is one line of a kernel ID map: IDs [Inner, Inner+Length) in the
// namespace are IDs [Outer, Outer+Length) outside it.
type Mapping struct {
	Inner  int `json:"container_id"`
	Outer  int `json:"host_id"`
	Length int `json:"size"`
}

// ReadSubIDs returns the ranges that file (an /etc/subuid-format file)
// grants to the user with the given name or numeric ID. A missing file means
// no ranges.
func ReadSubIDs(file, name string, id int) ([]Range, error) {
	f, err := os.Open(file)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	return ParseSubIDs(f, name, id)
}

// ParseSubIDs parses subordinate ID lines "owner:start:count". The owner is
// a user name or a numeric ID; malformed lines are skipped as shadow-utils
// does.
func ParseSubIDs(r io.Reader, name string, id int) ([]Range, error) {
	var out []Range
	idStr := strconv.Itoa(id)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 3 {
			continue
		}
		if parts[0] != name && parts[0] != idStr {
			continue
		}
		start, err1 := strconv.Atoi(parts[1])
		length, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || start < 0 || length <= 0 {
			continue
		}
		out = append(out, Range{Start: start, Length: length})
	}
	return out, sc.Err()
}

// ReadMap parses a kernel ID map such as /proc/self/uid_map.
func ReadMap(file string) ([]Mapping, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []Mapping
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		var m Mapping
		var errs [3]error
		m.Inner, errs[0] = strconv.Atoi(f[0])
		m.Outer, errs[1] = strconv.Atoi(f[1])
		m.Length, errs[2] = strconv.Atoi(f[2])
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("%s: malformed line %q", file, line)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// Total returns how many IDs the ranges cover.
func Total(rs []Range) int {
	n := 0
	for _, r := range rs {
		n += r.Length
	}
	return n
}
