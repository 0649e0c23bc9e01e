// Package archtest enforces the import rules of docs/architecture.md with
// `go list`, so that plain `go test ./...` catches a layering violation.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cove-run/cove"

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	tags := "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs containers_image_docker_daemon_stub osusergo netgo e2e"
	cmd := exec.Command("go", "list", "-tags", tags, "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

func isStd(imp string) bool { return !strings.Contains(strings.Split(imp, "/")[0], ".") }

// rule returns a reason when pkg must not import imp.
func rule(p, imp string) string {
	r := rel(p)
	ri := rel(imp)
	own := strings.HasPrefix(imp, module+"/")
	switch {
	case under(imp, "go.podman.io/storage") || under(imp, "go.podman.io/image/v5"):
		if !under(r, "internal/storage") && !under(r, "internal/image") && !under(r, "hack") {
			return "only internal/storage and internal/image import the containers libraries"
		}
	case under(imp, "go.podman.io/common"):
		if imp != "go.podman.io/common/pkg/seccomp" {
			return "of go.podman.io/common only pkg/seccomp (data) is used"
		}
	case under(imp, "github.com/spf13/cobra") || under(imp, "github.com/spf13/pflag"):
		if !under(r, "internal/cli") && !under(r, "cmd") && !under(r, "hack") {
			return "cobra and pflag belong to internal/cli and cmd"
		}
	}
	if under(r, "pkg") && !isStd(imp) && !under(imp, "golang.org/x/sys") {
		return "pkg/ holds leaf libraries: stdlib and x/sys only"
	}
	if own && under(ri, "internal/cli") && !under(r, "internal/cli") && !under(r, "cmd") && !under(r, "hack") {
		return "nothing below the CLI imports it"
	}
	if own && under(ri, "internal/engine") && !under(r, "internal/cli") && !under(r, "internal/engine") && !under(r, "cmd") {
		return "only the CLI uses the engine"
	}
	if under(r, "internal/runtime") && own {
		for _, banned := range []string{"internal/state", "internal/storage", "internal/image", "internal/engine", "internal/cli", "internal/network"} {
			if under(ri, banned) {
				return "the runtime knows nothing of storage, images, state or the CLI"
			}
		}
	}
	if under(r, "internal/network") && !isStd(imp) && !under(imp, "golang.org/x/sys") &&
		!(own && (under(ri, "internal/spec") || under(ri, "internal/errdefs") || under(ri, "pkg"))) {
		return "the network helpers know only spec, errdefs, pkg/, the standard library and x/sys"
	}
	if under(r, "internal/usernet") && !isStd(imp) && !under(imp, "golang.org/x/sys") &&
		!(own && (under(ri, "internal/errdefs") || under(ri, "pkg"))) {
		return "the network records know only errdefs, pkg/, the standard library and x/sys"
	}
	if under(r, "internal/netd") && !isStd(imp) && !under(imp, "golang.org/x/sys") && !under(imp, "golang.org/x/net") &&
		!under(imp, "github.com/vishvananda/netlink") && !(own && under(ri, "pkg")) {
		return "netd knows only pkg/, netlink, the standard library and x/sys, x/net"
	}
	if (under(r, "internal/errdefs") || under(r, "internal/reexec")) && !isStd(imp) {
		return "errdefs and reexec are stdlib-only leaves"
	}
	return ""
}

func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			if why := rule(p.ImportPath, imp); why != "" {
				t.Errorf("%s imports %s: %s", rel(p.ImportPath), imp, why)
			}
		}
	}
}

// TestRulesBite makes sure the rules above reject what they should, so the
// test cannot pass vacuously.
func TestRulesBite(t *testing.T) {
	bad := [][2]string{
		{module + "/internal/engine", "go.podman.io/storage"},
		{module + "/internal/engine", "github.com/spf13/cobra"},
		{module + "/pkg/idmap", "github.com/sirupsen/logrus"},
		{module + "/internal/runtime/seccomp", module + "/internal/storage"},
		{module + "/internal/storage", module + "/internal/cli"},
		{module + "/internal/errdefs", "github.com/sirupsen/logrus"},
		{module + "/internal/network", module + "/internal/state"},
		{module + "/internal/usernet", module + "/internal/state"},
		{module + "/internal/netd", module + "/internal/state"},
	}
	for _, b := range bad {
		if rule(b[0], b[1]) == "" {
			t.Errorf("rule allows %s -> %s", b[0], b[1])
		}
	}
	good := [][2]string{
		{module + "/internal/storage", "go.podman.io/storage"},
		{module + "/internal/cli", module + "/internal/engine"},
		{module + "/pkg/idmap", "golang.org/x/sys/unix"},
		{module + "/internal/network", module + "/internal/spec"},
	}
	for _, g := range good {
		if why := rule(g[0], g[1]); why != "" {
			t.Errorf("rule rejects %s -> %s: %s", g[0], g[1], why)
		}
	}
}
