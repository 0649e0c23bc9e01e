package cli

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func testFactory() *Factory {
	return newFactory(&IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
}

// describe renders everything a user or a script can see of a command and
// its subcommands: names, texts, annotations, every flag with its type,
// default and help, and the usage text.
func describe(c *cobra.Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "use=%q aliases=%v short=%q long=%q hidden=%v deprecated=%q\n", c.Use, c.Aliases, c.Short, c.Long, c.Hidden, c.Deprecated)
	keys := make([]string, 0, len(c.Annotations))
	for k := range c.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "annotation %s=%s\n", k, c.Annotations[k])
	}
	c.Flags().VisitAll(func(fl *pflag.Flag) {
		fmt.Fprintf(&b, "flag --%s -%s %s default=%q hidden=%v deprecated=%q usage=%q\n", fl.Name, fl.Shorthand, fl.Value.Type(), fl.DefValue, fl.Hidden, fl.Deprecated, fl.Usage)
	})
	b.WriteString(c.UsageString())
	for _, sub := range c.Commands() {
		b.WriteString("sub:\n" + describe(sub))
	}
	return b.String()
}

// TestRootForMatchesFullTree: a command built alone (newRootCmdFor's fast
// path) is the same command as in the whole tree, so that what a user sees
// (help, flags, defaults) does not depend on which path built it.
func TestRootForMatchesFullTree(t *testing.T) {
	full := newRootCmd(testFactory())
	for _, list := range [][]standaloneCommand{topLevelCommands, alsoInContainerGroup} {
		for _, c := range list {
			fast := newRootCmdFor(testFactory(), []string{c.name, "--help"})
			if len(fast.Commands()) != 1 {
				t.Errorf("%s: the fast path built %d commands, want 1", c.name, len(fast.Commands()))
				continue
			}
			got, _, err := fast.Find([]string{c.name})
			if err != nil {
				t.Fatalf("%s: not in the fast root: %v", c.name, err)
			}
			want, _, err := full.Find([]string{c.name})
			if err != nil || want.Name() != c.name {
				t.Fatalf("%s: not a root command of the full tree (%v)", c.name, err)
			}
			if g, w := describe(got), describe(want); g != w {
				t.Errorf("%s differs when built alone:\n--- alone\n%s\n--- in the tree\n%s", c.name, g, w)
			}
		}
	}
}

// TestRootForFallsBack: anything but a standalone command's name first
// gets the whole tree (global flags first, help, completion, groups,
// unknown names that deserve suggestions).
func TestRootForFallsBack(t *testing.T) {
	for _, args := range [][]string{nil, {"--log-level", "debug", "run"}, {"help", "run"}, {"completion", "bash"}, {"container", "ls"}, {"image", "ls"}, {"rnu"}, {"__complete", "ru"}} {
		root := newRootCmdFor(testFactory(), args)
		if _, _, err := root.Find([]string{"container", "ls"}); err != nil {
			t.Errorf("%q: no whole tree: %v", args, err)
		}
	}
	// Every root command of the whole tree is a group, cobra's own, or
	// one of the standalone tables: a new command must be listed there.
	known := map[string]bool{"image": true, "container": true, "volume": true, "network": true, "system": true, "help": true, "completion": true}
	for _, list := range [][]standaloneCommand{topLevelCommands, alsoInContainerGroup} {
		for _, c := range list {
			known[c.name] = true
		}
	}
	for _, c := range newRootCmd(testFactory()).Commands() {
		if !known[c.Name()] {
			t.Errorf("root command %q is in neither standalone table nor a group", c.Name())
		}
	}
}
