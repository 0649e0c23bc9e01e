// Command bench times cove against podman side by side, alternating the two
// in one run on the same machine, and prints medians and ratios: absolute
// times mean little on shared machines, ratios measured together do.
//
// It runs both tools as an unprivileged user (when started as root, the
// test user from hack/setup-test-env.sh), each with its own fresh store.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cove-run/cove/internal/userns"
)

var (
	coveBin  = flag.String("cove", "bin/cove", "cove binary")
	podman   = flag.String("podman", "podman", "podman binary")
	runs     = flag.Int("n", 10, "iterations per benchmark and tool")
	only     = flag.String("only", "", "comma-separated benchmark names to run (default all; net for the network ones)")
	userName = flag.String("user", "covetest", "user to run as when started as root")
	registry = flag.String("registry", "127.0.0.1:5000", "local registry with cove-test images")
	images   = flag.String("images", "/var/cache/cove-test/images", "fixture directory")
)

type runner struct {
	name string
	cred *syscall.Credential
	dir  string
	env  []string
	base []string // argv prefix
}

func (r *runner) cmd(args ...string) *exec.Cmd {
	argv := append(append([]string{}, r.base...), args...)
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = r.env
	c.Dir = r.dir
	if r.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	}
	return c
}

func (r *runner) must(args ...string) string {
	c := r.cmd(args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n%s", r.name, strings.Join(args, " "), err, errb.String())
		os.Exit(1)
	}
	return out.String()
}

func (r *runner) time(args ...string) time.Duration {
	if len(args) == 2 && args[0] == "__cycle" {
		start := time.Now()
		id := strings.TrimSpace(r.must("run", "-d", args[1], "sleep", "3600"))
		r.must("stop", "-t", "0", id)
		r.must("rm", id)
		return time.Since(start)
	}
	c := r.cmd(args...)
	var errb bytes.Buffer
	c.Stderr = &errb
	start := time.Now()
	if err := c.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n%s", r.name, strings.Join(args, " "), err, errb.String())
		os.Exit(1)
	}
	return time.Since(start)
}

type bench struct {
	name  string
	setup func(r *runner)
	// args returns the measured command; prep runs before each iteration
	// (not timed), e.g. to empty the store.
	args func(r *runner) []string
	prep func(r *runner)
	// n overrides -n when smaller (benchmarks whose prep is a pull).
	n int
}

func main() {
	flag.Parse()
	abs, _ := filepath.Abs(*coveBin)
	*coveBin = abs
	base, err := os.MkdirTemp("", "cove-bench-")
	check(err)
	os.Chmod(base, 0o755)
	defer os.RemoveAll(base)
	// cove's user namespace keeper lives in this run's runtime directory:
	// stop it with the run (deferred calls run last-in first-out, so
	// before the directory goes).
	defer userns.RetireKeeper(filepath.Join(base, "cove", "run", "cove"))
	// podman keeps a pause process per runtime directory too.
	defer stopPodmanPause(filepath.Join(base, "podman", "run"))

	var cred *syscall.Credential
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		u, err := user.Lookup(*userName)
		check(err)
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	mk := func(name string) *runner {
		d := filepath.Join(base, name)
		for _, s := range []string{"home", "data", "config", "run", "work"} {
			check(os.MkdirAll(filepath.Join(d, s), 0o700))
			os.Chown(filepath.Join(d, s), uid, gid)
		}
		os.Chown(d, uid, gid)
		return &runner{name: name, cred: cred, dir: filepath.Join(d, "work"), env: []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"HOME=" + filepath.Join(d, "home"),
			"XDG_DATA_HOME=" + filepath.Join(d, "data"),
			"XDG_CONFIG_HOME=" + filepath.Join(d, "config"),
			"XDG_RUNTIME_DIR=" + filepath.Join(d, "run"),
		}}
	}
	cove := mk("cove")
	cove.base = []string{*coveBin}
	pod := mk("podman")
	pod.base = []string{*podman, "--runtime", "runc", "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}

	tarballs := makeTarballs(base, 50, uid, gid)
	benches := []bench{
		{
			name: "images (50 images)",
			setup: func(r *runner) {
				for i, tb := range tarballs {
					r.must("import", tb, fmt.Sprintf("bench/img%d:latest", i))
				}
			},
			args: func(r *runner) []string { return []string{"images"} },
		},
		{
			name:  "image inspect",
			setup: func(r *runner) { r.must("load", "-i", filepath.Join(*images, "multi.docker.tar")) },
			args:  func(r *runner) []string { return []string{"image", "inspect", "cove-test/multi:latest"} },
		},
		{
			name:  "run --rm IMAGE true",
			setup: func(r *runner) { r.must("load", "-i", filepath.Join(*images, "busybox.docker.tar")) },
			args: func(r *runner) []string {
				img := "cove-test/busybox:latest"
				if r.name == "podman" {
					// podman names docker-archive images localhost/...
					img = "localhost/cove-test/busybox:latest"
				}
				return []string{"run", "--rm", img, "true"}
			},
		},
		{
			name:  "run -d + stop -t 0 + rm",
			setup: func(r *runner) { r.must("load", "-i", filepath.Join(*images, "busybox.docker.tar")) },
			args: func(r *runner) []string {
				img := "cove-test/busybox:latest"
				if r.name == "podman" {
					img = "localhost/cove-test/busybox:latest"
				}
				// One shell line, so the three commands are timed together.
				return []string{"__cycle", img}
			},
		},
		{
			name: "exec CTR true",
			setup: func(r *runner) {
				img := "cove-test/busybox:latest"
				if r.name == "podman" {
					img = "localhost/cove-test/busybox:latest"
				}
				r.must("load", "-i", filepath.Join(*images, "busybox.docker.tar"))
				r.must("run", "-d", "--name", "benchexec", img, "sleep", "3600")
			},
			args: func(r *runner) []string { return []string{"exec", "benchexec", "true"} },
		},
		{
			name: "ps -a with 50 containers",
			setup: func(r *runner) {
				img := "cove-test/busybox:latest"
				if r.name == "podman" {
					img = "localhost/cove-test/busybox:latest"
				}
				r.must("load", "-i", filepath.Join(*images, "busybox.docker.tar"))
				for i := 0; i < 50; i++ {
					r.must("create", "--name", fmt.Sprintf("benchps%d", i), img, "true")
				}
			},
			args: func(r *runner) []string { return []string{"ps", "-a"} },
		},
		{
			name: "pull big (~250 MB) into an empty store",
			prep: func(r *runner) {
				// Empty store: the image and its layers go (ignore "no such
				// image" on the first round).
				r.cmd("rmi", "-f", *registry+"/cove-test/big:latest").Run()
			},
			args: func(r *runner) []string {
				a := []string{"pull", "-q", *registry + "/cove-test/big:latest"}
				if r.name == "podman" {
					a = append(a, "--tls-verify=false")
				}
				return a
			},
		},
	}
	// keep-id on the ~250 MB, 6-layer image: Podman copies and chowns the
	// image at the first keep-id run of an image (then caches the copy);
	// cove maps owners through fuse-overlayfs and copies nothing.
	big := *registry + "/cove-test/big:latest"
	pullBig := func(r *runner) {
		a := []string{"pull", "-q", big}
		if r.name == "podman" {
			a = append(a, "--tls-verify=false")
		}
		r.must(a...)
	}
	benches = append(benches,
		bench{
			name:  "run --rm big true (plain, for reference)",
			setup: pullBig,
			args:  func(r *runner) []string { return []string{"run", "--rm", big, "true"} },
		},
		bench{
			name: "keep-id: first run --rm --userns=keep-id big",
			prep: func(r *runner) {
				// A fresh copy of the image, so that Podman has no
				// chowned copy cached.
				r.cmd("rmi", "-f", big).Run()
				pullBig(r)
			},
			args: func(r *runner) []string { return []string{"run", "--rm", "--userns=keep-id", big, "true"} },
			n:    3,
		},
		bench{
			name: "keep-id: second run --rm --userns=keep-id big",
			setup: func(r *runner) {
				pullBig(r)
				r.must("run", "--rm", "--userns=keep-id", big, "true")
			},
			args: func(r *runner) []string { return []string{"run", "--rm", "--userns=keep-id", big, "true"} },
		},
	)
	fmt.Printf("cove vs podman (%s), %d alternating runs each, median wall time\n", *podman, *runs)
	fmt.Printf("%-42s %12s %12s %10s\n", "benchmark", "cove", "podman", "podman/cove")
	for _, b := range benches {
		if *only != "" && !strings.Contains(","+*only+",", ","+strings.Fields(b.name)[0]+",") {
			continue
		}
		if b.setup != nil {
			b.setup(cove)
			b.setup(pod)
		}
		var tc, tp []time.Duration
		n := *runs
		if b.n > 0 && b.n < n {
			n = b.n
		}
		for i := 0; i < n; i++ {
			for _, r := range []*runner{cove, pod} {
				if b.prep != nil {
					b.prep(r)
				}
				d := r.time(b.args(r)...)
				if r == cove {
					tc = append(tc, d)
				} else {
					tp = append(tp, d)
				}
			}
		}
		mc, mp := median(tc), median(tp)
		fmt.Printf("%-42s %12s %12s %9.1fx\n", b.name, mc.Round(100*time.Microsecond), mp.Round(100*time.Microsecond), float64(mp)/float64(mc))
	}
	if *only == "" || strings.Contains(","+*only+",", ",net,") {
		netBench(base, cove, pod)
	}
	cove.cmd("rm", "-f", "benchexec").Run()
	pod.cmd("rm", "-f", "-t", "0", "benchexec").Run()
	cove.cmd("unshare", "rm", "-rf", filepath.Join(base, "cove", "data")).Run()
	pod.cmd("unshare", "rm", "-rf", filepath.Join(base, "podman", "data")).Run()
}

// makeTarballs writes n tiny distinct root filesystems for import.
func makeTarballs(base string, n, uid, gid int) []string {
	var out []string
	for i := 0; i < n; i++ {
		p := filepath.Join(base, fmt.Sprintf("rootfs%d.tar", i))
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := []byte(fmt.Sprintf("image %d\n", i))
		tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
		tw.WriteHeader(&tar.Header{Name: "etc/bench", Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
		tw.Close()
		check(os.WriteFile(p, buf.Bytes(), 0o644))
		os.Chown(p, uid, gid)
		out = append(out, p)
	}
	return out
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// stopPodmanPause kills podman's pause process of the bench's runtime
// directory runDir (its PID file), which would otherwise outlive the run.
func stopPodmanPause(runDir string) {
	b, err := os.ReadFile(filepath.Join(runDir, "libpod", "tmp", "pause.pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
