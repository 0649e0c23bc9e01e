//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSetupScript: hack/setup-test-env.sh changes the host, so it refuses
// to run unless the machine is declared a CI or test machine (or --force),
// changing nothing; on a machine it has set up already, a second run only
// checks, in seconds.
func TestSetupScript(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", "..", "hack", "setup-test-env.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var clean []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CI=") && !strings.HasPrefix(e, "COVE_TEST_MACHINE=") {
			clean = append(clean, e)
		}
	}
	run := func(extra ...string) (int, string, time.Duration) {
		t.Helper()
		cmd := exec.Command("bash", script)
		cmd.Env = append(append([]string{}, clean...), extra...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out), time.Since(start)
	}
	code, out, d := run()
	if code != 1 || !strings.Contains(out, "Refusing to run") || !strings.Contains(out, "COVE_TEST_MACHINE=1") {
		t.Errorf("without CI or COVE_TEST_MACHINE: exit %d, want 1 and the refusal naming the way out:\n%s", code, out)
	}
	if strings.Contains(out, "==>") {
		t.Errorf("the refusal must come before any step:\n%s", out)
	}
	if d > 2*time.Second {
		t.Errorf("the refusal took %s", d)
	}
	if os.Geteuid() != 0 || env["COVE_TEST_REGISTRY"] == "" {
		t.Skip("the second run needs root on a machine the script has set up")
	}
	code, out, d = run("COVE_TEST_MACHINE=1")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	for _, want := range []string{"all present", "subordinate ranges already present", "already running", "up to date"} {
		if !strings.Contains(out, want) {
			t.Errorf("second run should only check (%q missing):\n%s", want, out)
		}
	}
	t.Logf("second run of the set-up: %s", d)
	if d > 10*time.Second {
		t.Errorf("second run took %s; it should take seconds", d)
	}
}
