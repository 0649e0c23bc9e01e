package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestEveryKeyDocumented: docs/configuration.md documents cove.toml key by
// key (issue 2); a key added to File without its entry in the
// documentation's example fails here. The example is the toml block after
// the "cove.toml, key by key" heading, where each key appears as
// "key = value" under its [table].
func TestEveryKeyDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "## cove.toml, key by key")
	if start < 0 {
		t.Fatal(`docs/configuration.md lacks the "## cove.toml, key by key" section`)
	}
	doc = doc[start:]
	open := strings.Index(doc, "```toml\n")
	if open < 0 {
		t.Fatal("no toml example in the cove.toml section")
	}
	example := doc[open+len("```toml\n"):]
	example = example[:strings.Index(example, "```")]
	// table -> keys documented in the example.
	documented := map[string]bool{}
	table := ""
	keyLine := regexp.MustCompile(`^([a-z_]+) *=`)
	for _, line := range strings.Split(example, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			table = strings.Trim(line, "[]")
		} else if m := keyLine.FindStringSubmatch(line); m != nil {
			documented[table+"."+m[1]] = true
		}
	}
	var walk func(prefix string, typ reflect.Type)
	n := 0
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			key := strings.TrimPrefix(prefix+"."+name, ".")
			if f.Type.Kind() == reflect.Struct {
				walk(key, f.Type)
				continue
			}
			n++
			if !documented[key] {
				t.Errorf("cove.toml key %s is not in docs/configuration.md's example", key)
			}
		}
	}
	walk("", reflect.TypeOf(File{}))
	if n == 0 {
		t.Fatal("found no keys in config.File")
	}
	for k := range documented {
		tbl, key, _ := strings.Cut(k, ".")
		if !hasKey(reflect.TypeOf(File{}), tbl, key) {
			t.Errorf("docs/configuration.md documents %s, which cove.toml does not have", k)
		}
	}
}

func hasKey(typ reflect.Type, table, key string) bool {
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("toml"), ","); name == table && f.Type.Kind() == reflect.Struct {
			for j := 0; j < f.Type.NumField(); j++ {
				if n, _, _ := strings.Cut(f.Type.Field(j).Tag.Get("toml"), ","); n == key {
					return true
				}
			}
		}
	}
	return false
}
