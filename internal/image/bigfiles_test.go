package image

import (
	"os"
	"path/filepath"
	"testing"
)

// A command's big-files directory stays while it lives (its lock is
// held) and goes at the next command's first copy once it has exited
// (simulated by a directory nobody locks), with what a killed copy left
// in it.
func TestBigFilesDirOfExitedCommandsRemoved(t *testing.T) {
	root := t.TempDir()
	dead := filepath.Join(root, "tmp", "123")
	if err := os.MkdirAll(dead, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dead, "container_images_storage1"), []byte("half a layer"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := New(nil, Options{StateRoot: root})
	mine := first.bigFilesDir()
	if mine == "" || filepath.Dir(mine) != filepath.Join(root, "tmp") {
		t.Fatalf("bigFilesDir: %q", mine)
	}
	if again := first.bigFilesDir(); again != mine {
		t.Errorf("second call: %q, first %q", again, mine)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("an exited command's directory is left: %v", err)
	}
	// Another command (flock is per open file, so this process stands in
	// for one) leaves a live command's directory alone.
	second := New(nil, Options{StateRoot: root})
	if other := second.bigFilesDir(); other == "" || other == mine {
		t.Errorf("second command's directory: %q (first %q)", other, mine)
	}
	if fi, err := os.Stat(mine); err != nil || !fi.IsDir() {
		t.Errorf("a live command's directory was removed: %v", err)
	}
	if got := New(nil, Options{}).bigFilesDir(); got != "" {
		t.Errorf("without a state root: %q", got)
	}
}
