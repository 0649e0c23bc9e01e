package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Budgets for package initialisation, which every cove process pays before
// doing anything (a rootless `run` starts the binary twice; an old
// go-runewidth once cost 36 ms per start).
//
// The libraries cove builds on (go.podman.io/image and what it drags in:
// distribution's reference regexps, grpc and protobuf through ocicrypt,
// openpgp) spend 4-6 ms in init on this machine class, and wall-clock
// timing on a shared VM varies by half between runs. So the guard is in
// three parts: cove's own packages stay under ownBudget, no package outside
// a list of known library costs may spend more than onePackage, and the
// whole stays under totalBudget (the foundation issue's 5 ms), counted as
// the sum of each package's best time over the runs: noise only ever adds
// time, and it hits different packages in different runs, so the best run
// as a whole still carries some. See docs/architecture.md.
const (
	ownBudget   = 0.5 // ms, all github.com/cove-run packages together
	onePackage  = 0.3 // ms, any package not in knownHeavy
	totalBudget = 5.0 // ms
)

// knownHeavy lists library packages whose init is known to cost more than
// onePackage, with what they do.
var knownHeavy = map[string]string{
	"github.com/distribution/reference":                      "reference grammar regexps",
	"go.podman.io/image/v5/docker/reference":                 "reference grammar regexps",
	"google.golang.org/genproto/googleapis/api/annotations":  "protobuf descriptors (ocicrypt keyprovider)",
	"google.golang.org/protobuf/types/descriptorpb":          "protobuf descriptors",
	"github.com/ProtonMail/go-crypto/openpgp/internal/ecc":   "curve tables (signature verification)",
	"github.com/klauspost/compress/internal/snapref":         "compression tables",
	"github.com/opencontainers/go-digest":                    "digest regexps",
	"google.golang.org/grpc":                                 "grpc registries (ocicrypt keyprovider)",
	"html/template":                                          "escaper tables (grpc's trace pages)",
	"github.com/json-iterator/go":                            "codec registries",
	"go.yaml.in/yaml/v3":                                     "yaml tables",
	"github.com/acarl005/stripansi":                          "ANSI regexp (progress bars)",
	"go.podman.io/storage/pkg/stringid":                      "ID regexps",
	"google.golang.org/grpc/internal/binarylog":              "grpc logging",
	"github.com/youmark/pkcs8":                               "OID tables",
	"google.golang.org/protobuf/internal/detrand":            "binary hash",
	"github.com/sigstore/protobuf-specs/gen/pb-go/common/v1": "protobuf descriptors",
	"net/netip":                           "tables",
	"github.com/BurntSushi/toml/internal": "time zones (cove.toml)",
}

var initLine = regexp.MustCompile(`(?m)^init (\S+) @\S+ ms, ([0-9.]+) ms clock`)

func TestInitBudget(t *testing.T) {
	if os.Getenv("COVE_INIT_BUDGET") == "" {
		// Timing is only meaningful on an otherwise idle machine, not
		// beside the parallel package tests of `go test ./...`:
		// `make test-unit` runs it alone afterwards.
		t.Skip("set COVE_INIT_BUDGET=1 (make test-unit does, in a run of its own)")
	}
	bin := filepath.Join(t.TempDir(), "cove")
	build := exec.Command("go", "build", "-tags", "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs containers_image_docker_daemon_stub osusergo netgo", "-ldflags", "-s -w", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// Best of 15 per package: noise only ever adds time.
	best := map[string]float64{}
	bestTotal := -1.0
	for i := 0; i < 15; i++ {
		cmd := exec.Command(bin, "version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cove version: %v\n%s", err, out)
		}
		m := initLine.FindAllStringSubmatch(string(out), -1)
		if len(m) == 0 {
			t.Fatalf("no inittrace lines in output:\n%s", out)
		}
		total := 0.0
		seen := map[string]float64{}
		for _, s := range m {
			v, _ := strconv.ParseFloat(s[2], 64)
			total += v
			seen[s[1]] += v
		}
		for p, v := range seen {
			if old, ok := best[p]; !ok || v < old {
				best[p] = v
			}
		}
		if bestTotal < 0 || total < bestTotal {
			bestTotal = total
		}
	}
	own, sumBest := 0.0, 0.0
	var heavy []string
	for p, v := range best {
		sumBest += v
		if strings.HasPrefix(p, "github.com/cove-run/") {
			own += v
		}
		if v > onePackage {
			if _, ok := knownHeavy[p]; !ok {
				heavy = append(heavy, p+" "+strconv.FormatFloat(v, 'f', 2, 64)+" ms")
			}
		}
	}
	sort.Strings(heavy)
	t.Logf("package init: %.2f ms in total (sum of each package's best of 15; best single run %.2f ms), cove's own packages %.3f ms", sumBest, bestTotal, own)
	if own > ownBudget {
		t.Errorf("cove's own packages spend %.3f ms in init, over %.1f ms: move the work out of init (GODEBUG=inittrace=1 bin/cove version)", own, ownBudget)
	}
	if len(heavy) > 0 {
		t.Errorf("packages with an init over %.1f ms that are not known costs: %s (find them with GODEBUG=inittrace=1 bin/cove version)", onePackage, strings.Join(heavy, ", "))
	}
	if sumBest > totalBudget {
		t.Errorf("package init takes %.2f ms, over the %.0f ms budget (GODEBUG=inittrace=1 bin/cove version)", sumBest, totalBudget)
	}
}
