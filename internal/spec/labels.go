package spec

import (
	"os"
	"strings"
	"unicode"
)

// ParseLabel parses a --label value, KEY[=VALUE]; a bare KEY has the empty
// value. An empty KEY or whitespace in KEY is an error.
func ParseLabel(s string) (key, value string, err error) {
	key, value, _ = strings.Cut(s, "=")
	switch {
	case key == "":
		return "", "", invalid("label %q: empty name", s)
	case strings.IndexFunc(key, unicode.IsSpace) >= 0:
		return "", "", invalid("label %q: name contains whitespace", s)
	case strings.IndexByte(s, 0) >= 0:
		return "", "", invalid("label %q: contains a NUL byte", s)
	}
	return key, value, nil
}

// ReadLabelFile reads a --label-file: the env-file syntax, except that a
// bare KEY (no '=') is skipped, as Docker does. It returns KEY=VALUE entries.
func ReadLabelFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, invalid("label file: %w", err)
	}
	defer f.Close()
	var out []string
	err = scanKVFile(f, func(key, val string, hasVal bool) error {
		if hasVal {
			out = append(out, key+"="+val)
		}
		return nil
	})
	if err != nil {
		return nil, invalid("label file %s: %v", path, err)
	}
	return out, nil
}

// Labels merges --label-file files (in order) and then --label values into
// one map; later entries win.
func Labels(files, labels []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range files {
		entries, err := ReadLabelFile(f)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			k, v, _ := strings.Cut(e, "=")
			out[k] = v
		}
	}
	for _, l := range labels {
		k, v, err := ParseLabel(l)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}
