package spec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultPathEnv is the PATH a container gets when its image sets none.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// maxEnvLine bounds one line of an env or label file.
const maxEnvLine = 1 << 20

// LookupFunc looks a variable up in the host environment; os.LookupEnv is
// the default wherever a nil LookupFunc is passed.
type LookupFunc func(key string) (string, bool)

// checkEnvKey reports what is wrong with an environment variable name.
func checkEnvKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty variable name")
	case strings.IndexFunc(key, unicode.IsSpace) >= 0:
		return fmt.Errorf("variable name %q contains whitespace", key)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("variable name %q contains a NUL byte", key)
	}
	return nil
}

// ParseEnv validates one -e/--env value. KEY=VALUE is returned as is (no
// quote stripping; whitespace in VALUE is kept). A bare KEY takes the host's
// value as KEY=VALUE; when the host has no such variable, the bare KEY is
// returned, which Generate (MergeEnv) treats as "unset": the variable is
// dropped, and so is the image's value for it, as with Docker. Keys that are
// empty or contain whitespace are errors; values may not contain NUL.
func ParseEnv(s string, lookup LookupFunc) (string, error) {
	key, val, hasVal := strings.Cut(s, "=")
	if err := checkEnvKey(key); err != nil {
		return "", invalid("environment variable %q: %v", s, err)
	}
	if hasVal {
		if strings.IndexByte(val, 0) >= 0 {
			return "", invalid("environment variable %q: value contains a NUL byte", s)
		}
		return s, nil
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if v, ok := lookup(key); ok && strings.IndexByte(v, 0) < 0 {
		return key + "=" + v, nil
	}
	return key, nil
}

// ParseEnvFile reads an --env-file from r; name is used in errors only.
// Docker's rules: leading whitespace is trimmed, blank lines and lines
// starting with '#' are skipped, KEY=VALUE is kept as is (no quote
// stripping, trailing whitespace kept), a bare KEY takes the host's value
// and is omitted when the host has none, a UTF-8 BOM at the start is
// ignored. An empty key, whitespace in a key, invalid UTF-8 and NUL bytes
// are errors naming the file and the line number.
func ParseEnvFile(r io.Reader, name string, lookup LookupFunc) ([]string, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var out []string
	err := scanKVFile(r, func(key, val string, hasVal bool) error {
		if hasVal {
			out = append(out, key+"="+val)
		} else if v, ok := lookup(key); ok && strings.IndexByte(v, 0) < 0 {
			out = append(out, key+"="+v)
		}
		return nil
	})
	if err != nil {
		return nil, invalid("env file %s: %v", name, err)
	}
	return out, nil
}

// ReadEnvFile opens path and parses it with ParseEnvFile.
func ReadEnvFile(path string, lookup LookupFunc) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, invalid("env file: %w", err)
	}
	defer f.Close()
	return ParseEnvFile(f, path, lookup)
}

// UserEnv reads the --env-file files in order, then parses the -e values,
// and returns the concatenation: the Input.Env that Generate expects.
func UserEnv(envFiles, env []string, lookup LookupFunc) ([]string, error) {
	var out []string
	for _, f := range envFiles {
		e, err := ReadEnvFile(f, lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, e...)
	}
	for _, s := range env {
		e, err := ParseEnv(s, lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// lineError is a problem on one line of a key=value file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// scanKVFile walks the KEY[=VALUE] lines of an env or label file.
func scanKVFile(r io.Reader, fn func(key, val string, hasVal bool) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxEnvLine)
	n := 0
	for sc.Scan() {
		n++
		b := sc.Bytes()
		if n == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		if !utf8.Valid(b) {
			return &lineError{n, "invalid UTF-8"}
		}
		if bytes.IndexByte(b, 0) >= 0 {
			return &lineError{n, "NUL byte"}
		}
		line := strings.TrimLeftFunc(string(b), unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, hasVal := strings.Cut(line, "=")
		if err := checkEnvKey(key); err != nil {
			return &lineError{n, err.Error()}
		}
		if err := fn(key, val, hasVal); err != nil {
			return &lineError{n, err.Error()}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &lineError{n + 1, "line longer than 1 MiB"}
		}
		return err
	}
	return nil
}

// MergeEnv applies overrides to base in order, as Docker does: KEY=VALUE
// replaces the variable in place or appends it; a bare KEY removes it.
// Entries of base that lack '=' are dropped. The inputs are not modified.
func MergeEnv(base []string, overrides ...[]string) []string {
	out := make([]string, 0, len(base)+8)
	idx := make(map[string]int, len(base)+8)
	set := func(e string) {
		k, _, hasVal := strings.Cut(e, "=")
		i, ok := idx[k]
		switch {
		case !hasVal:
			if ok {
				out[i] = ""
				delete(idx, k)
			}
		case ok:
			out[i] = e
		default:
			idx[k] = len(out)
			out = append(out, e)
		}
	}
	for _, e := range base {
		if strings.Contains(e, "=") {
			set(e)
		}
	}
	for _, o := range overrides {
		for _, e := range o {
			set(e)
		}
	}
	res := out[:0]
	for _, e := range out {
		if e != "" {
			res = append(res, e)
		}
	}
	return res
}

// envKey returns the name part of a KEY[=VALUE] entry.
func envKey(e string) string {
	k, _, _ := strings.Cut(e, "=")
	return k
}
