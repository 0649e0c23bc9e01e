package image

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestCopyTarOmitting(t *testing.T) {
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for _, e := range []struct {
		name string
		body string
		typ  byte
	}{
		{"etc/", "", tar.TypeDir},
		{"etc/hosts", "", tar.TypeReg},          // an empty mount target: left out
		{"etc/hostname", "mine\n", tar.TypeReg}, // written by the container: kept
		{"./etc/resolv.conf", "", tar.TypeReg},  // left out, however named
		{"data", "", tar.TypeReg},               // empty but not listed: kept
	} {
		tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Size: int64(len(e.body)), Mode: 0o644})
		tw.Write([]byte(e.body))
	}
	tw.Close()
	var out bytes.Buffer
	if err := copyTarOmitting(&out, &in, []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "etc/ etc/hostname data" {
		t.Errorf("kept %q", got)
	}
}

func TestRemoveStaleCommitDirs(t *testing.T) {
	root := t.TempDir()
	mine := filepath.Join(root, "commit-"+strconv.Itoa(os.Getpid())+"-1")
	// PID 2^22+1 is above the kernel's pid_max limit: never alive.
	dead := filepath.Join(root, "commit-4194305-1")
	other := filepath.Join(root, "overlay")
	for _, d := range []string{mine, dead, other} {
		os.Mkdir(d, 0o700)
	}
	removeStaleCommitDirs(root)
	for d, want := range map[string]bool{mine: true, dead: false, other: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", d, err == nil, want)
		}
	}
}
