package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/config"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
)

// --userns=keep-id, --uidmap and --gidmap give the container a user
// namespace of its own, a child of cove's. Its image must then look owned
// by the container's IDs, not cove's: Podman copies and chowns the image
// once per mapping. cove presents the same layers through fuse-overlayfs
// with uidmapping=/gidmapping=, which translate owners on the fly, so
// nothing is copied (see docs/architecture.md for the kernel probe behind
// this choice: native overlay refuses idmapped mounts, and the layers'
// own file system belongs to the host's namespace).

// checkUsernsOptions validates --userns, --uidmap and --gidmap at create.
func checkUsernsOptions(o *ContainerOptions, rootless bool) error {
	u, err := spec.ParseUserns(o.Userns)
	if err != nil {
		return err
	}
	if u.KeepID && (len(o.UIDMap) > 0 || len(o.GIDMap) > 0) {
		return errdefs.InvalidArgument("--userns=keep-id and --uidmap/--gidmap exclude each other")
	}
	if u.KeepID && !rootless {
		return errdefs.InvalidArgument("--userns=keep-id applies to rootless cove only (as root the user's IDs are already the host's)")
	}
	uid, _, err := parseIDMaps(o)
	if err != nil || uid == nil {
		return err
	}
	// The container's init sets up its mounts from inside its own user
	// namespace: the container's files live under the user's private
	// (0700) directories, which only an ID that is the user can traverse.
	for _, m := range uid {
		if m.HostID == 0 {
			return nil
		}
	}
	return errdefs.InvalidArgument("--uidmap %s: the mapping must include host ID 0 (you, in cove's namespace), e.g. --uidmap 0:1:1000 --uidmap 1000:0:1: the container's files are in your private directories", strings.Join(o.UIDMap, " --uidmap "))
}

func parseIDMaps(o *ContainerOptions) (uid, gid []specs.LinuxIDMapping, err error) {
	for _, f := range []struct {
		flag string
		raw  []string
		out  *[]specs.LinuxIDMapping
	}{{"uidmap", o.UIDMap, &uid}, {"gidmap", o.GIDMap, &gid}} {
		for _, s := range f.raw {
			m, err := spec.ParseIDMap(f.flag, s)
			if err != nil {
				return nil, nil, err
			}
			*f.out = append(*f.out, m)
		}
		if err := spec.CheckIDMaps(f.flag, *f.out); err != nil {
			return nil, nil, err
		}
	}
	// Podman's rule: one of the two given alone serves for both.
	if uid == nil {
		uid = gid
	}
	if gid == nil {
		gid = uid
	}
	return uid, gid, nil
}

// idMaps returns the mappings of the container's own user namespace, or
// nil when it shares cove's.
func (e *Engine) idMaps(rec *containerRecord) (uid, gid []specs.LinuxIDMapping, err error) {
	o := &rec.Options
	if len(o.UIDMap) > 0 || len(o.GIDMap) > 0 {
		return parseIDMaps(o)
	}
	u, err := spec.ParseUserns(o.Userns)
	if err != nil || !u.KeepID {
		return nil, nil, err
	}
	hu, hg := keepIDs(e, u)
	if uid, err = spec.KeepIDMap(uint32(hu), mappedIDs("/proc/self/uid_map")); err != nil {
		return nil, nil, errdefs.InvalidArgument("%v", err)
	}
	if gid, err = spec.KeepIDMap(uint32(hg), mappedIDs("/proc/self/gid_map")); err != nil {
		return nil, nil, errdefs.InvalidArgument("%v", err)
	}
	return uid, gid, nil
}

// keepIDUserSpec is the default user of `exec` in a keep-id container,
// "UID:GID", or "" for other containers.
func keepIDUserSpec(userns string) string {
	u, err := spec.ParseUserns(userns)
	if err != nil || !u.KeepID {
		return ""
	}
	hu, hg := config.HostIDs()
	uid, gid := keepIDsOf(hu, hg, u)
	return strconv.Itoa(uid) + ":" + strconv.Itoa(gid)
}

// keepIDs are the container uid and gid that keep-id gives the user.
func keepIDs(e *Engine, u spec.Userns) (uid, gid int) {
	return keepIDsOf(e.Config.UID, e.Config.GID, u)
}

func keepIDsOf(uid, gid int, u spec.Userns) (int, int) {
	if u.UID >= 0 {
		uid = u.UID
	}
	if u.GID >= 0 {
		gid = u.GID
	}
	return uid, gid
}

// mappedIDs counts the IDs this process's user namespace maps.
func mappedIDs(file string) uint32 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	var n uint64
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 {
			v, _ := strconv.ParseUint(f[2], 10, 32)
			n += v
		}
	}
	if n > 1<<32-1 {
		n = 1<<32 - 1
	}
	return uint32(n)
}

// mountRootfs mounts the container's root file system and returns its
// path: cove's own overlay (managed_layer.go), storage's mount, or for a container with its own user namespace
// the same layers through fuse-overlayfs with the container's ID mapping.
func (e *Engine) mountRootfs(c *state.Container, rec *containerRecord) (string, error) {
	if rec.ManagedLayer {
		stores, err := e.States()
		if err != nil {
			return "", err
		}
		rootfs, err := e.mountManagedLayer(stores.Dir(c.ID), rec)
		if err != nil {
			return "", fmt.Errorf("container %s: %w", c.Name, err)
		}
		return rootfs, nil
	}
	st, err := e.Store()
	if err != nil {
		return "", err
	}
	rootfs, err := st.Mount(rec.StorageID, "")
	if err != nil {
		return "", fmt.Errorf("container %s: mounting its root filesystem: %w", c.Name, err)
	}
	uidm, gidm, err := e.idMaps(rec)
	if err != nil || uidm == nil {
		return rootfs, err
	}
	layers, err := e.overlayLayers(rootfs)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", c.Name, err)
	}
	// The layers must not be served by two overlays at once.
	if _, err := st.Unmount(rec.StorageID, true); err != nil {
		return "", fmt.Errorf("container %s: %w", c.Name, err)
	}
	stores, err := e.States()
	if err != nil {
		return "", err
	}
	if u, _ := spec.ParseUserns(rec.Options.Userns); u.KeepID {
		uid, gid := keepIDs(e, u)
		if err := makeKeepIDHome(layers.upper, uid, gid); err != nil {
			return "", fmt.Errorf("container %s: creating the user's home: %w", c.Name, err)
		}
	}
	merged := filepath.Join(stores.Dir(c.ID), "rootfs-idmapped")
	return merged, startFuseOverlay(layers, merged, uidm, gidm, stores.Dir(c.ID))
}

// overlayDirs are the directories of an overlay mount.
type overlayDirs struct {
	lower       []string
	upper, work string
}

// overlayLayers reads the layers of the overlay mounted at dir from
// /proc/self/mountinfo: the options storage passed to the kernel.
func (e *Engine) overlayLayers(dir string) (*overlayDirs, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseOverlayMount(f, dir, filepath.Join(e.Config.GraphRoot, "overlay"))
}

// parseOverlayMount finds the overlay mounted at dir in a mountinfo
// listing. Relative layer paths (storage mounts from its driver's home,
// driverHome, when the absolute ones would not fit in a page) are made
// absolute against driverHome.
func parseOverlayMount(r io.Reader, dir, driverHome string) (*overlayDirs, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var found *overlayDirs
	abs := func(p string) string {
		p = unescapeMountinfo(p)
		if p != "" && !filepath.IsAbs(p) {
			p = filepath.Join(driverHome, p)
		}
		return p
	}
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 || unescapeMountinfo(fields[4]) != dir || tail[0] != "overlay" {
			continue
		}
		d := &overlayDirs{}
		for _, o := range strings.Split(tail[2], ",") {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "lowerdir":
				d.lower = nil
				for _, l := range strings.Split(v, ":") {
					d.lower = append(d.lower, abs(l))
				}
			case "upperdir":
				d.upper = abs(v)
			case "workdir":
				d.work = abs(v)
			}
		}
		found = d // the last one is the top mount
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if found == nil || len(found.lower) == 0 || found.upper == "" || found.work == "" {
		return nil, fmt.Errorf("an ID-mapped root file system needs the overlay storage driver (%s is not an overlay with an upper layer)", dir)
	}
	for _, p := range append(append([]string{}, found.lower...), found.upper, found.work) {
		if strings.ContainsAny(p, ",:") {
			return nil, fmt.Errorf("layer path %q cannot be passed to fuse-overlayfs", p)
		}
	}
	return found, nil
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// makeKeepIDHome creates the user's home directory in the container's
// upper layer, owned by the user as the container sees it: on disk, a
// fuse-overlayfs layer holds the container's own IDs.
func makeKeepIDHome(upper string, uid, gid int) error {
	home := keepIDHome(uid)
	p := filepath.Join(upper, home)
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	parent := filepath.Dir(p)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.Lchown(p, uid, gid)
}

// keepIDUser is the host's passwd entry of the user, for keep-id.
func keepIDUser(uid int) (name, home string) {
	name = "user" + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" && !strings.ContainsAny(u.Username, ":\n/") {
		name = u.Username
	}
	return name, "/home/" + name
}

func keepIDHome(uid int) string { _, h := keepIDUser(uid); return h }

// startFuseOverlay mounts layers at merged with fuse-overlayfs, mapping
// owners with the container's mappings. fuse-overlayfs runs in the
// foreground as this process's child, killed with it (Pdeathsig): a
// daemonized one would keep this mount namespace, and itself, alive
// forever after a kill -9 of cove. The mount goes when the container's
// namespaces and this process are gone.
func startFuseOverlay(d *overlayDirs, merged string, uidm, gidm []specs.LinuxIDMapping, ctrDir string) error {
	bin, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return fmt.Errorf("--userns=keep-id and --uidmap need fuse-overlayfs (apt install fuse-overlayfs): %w", errdefs.ErrUnsupported)
	}
	unix.Unmount(merged, unix.MNT_DETACH) // a restart by the same launcher
	if err := os.MkdirAll(merged, 0o700); err != nil {
		return err
	}
	opts := "lowerdir=" + strings.Join(d.lower, ":") + ",upperdir=" + d.upper + ",workdir=" + d.work +
		",uidmapping=" + fuseMapping(uidm) + ",gidmapping=" + fuseMapping(gidm) +
		// allow_other: the container's processes have other IDs than
		// the mounter; in a user namespace the kernel lets its root ask.
		",allow_other"
	logPath := filepath.Join(ctrDir, "fuse-overlayfs.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-f", "-o", opts, merged)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting fuse-overlayfs: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var fs unix.Statfs_t
		if unix.Statfs(merged, &fs) == nil && fs.Type == unix.FUSE_SUPER_MAGIC {
			return nil
		}
		select {
		case err := <-exited:
			msg, _ := os.ReadFile(logPath)
			return fmt.Errorf("fuse-overlayfs exited (%v): %s", err, strings.TrimSpace(string(msg)))
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return errors.New("fuse-overlayfs did not mount within 10 s")
		}
	}
}

// fuseMapping renders mappings as fuse-overlayfs wants them:
// CONTAINER:HOST:SIZE triples joined by ':'. On disk the layers hold
// container IDs; fuse-overlayfs shows each as the ID of cove's namespace
// that the container's namespace maps it to.
func fuseMapping(maps []specs.LinuxIDMapping) string {
	parts := make([]string, 0, len(maps))
	for _, m := range maps {
		parts = append(parts, fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size))
	}
	return strings.Join(parts, ":")
}

// applyUserns gives the spec the container's own user namespace, and for
// keep-id the user's identity: uid and gid (unless -u), a passwd and group
// entry bound over the image's, HOME.
func (e *Engine) applyUserns(sp *specs.Spec, c *state.Container, rec *containerRecord, rootfs string) error {
	uidm, gidm, err := e.idMaps(rec)
	if err != nil || uidm == nil {
		return err
	}
	sp.Linux.Namespaces = append(sp.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	sp.Linux.UIDMappings, sp.Linux.GIDMappings = uidm, gidm
	u, _ := spec.ParseUserns(rec.Options.Userns)
	if !u.KeepID {
		return nil
	}
	uid, gid := keepIDs(e, u)
	name, home := keepIDUser(e.Config.UID)
	stores, err := e.States()
	if err != nil {
		return err
	}
	dir := stores.Dir(c.ID)
	for _, f := range []struct{ name, line string }{
		{"passwd", fmt.Sprintf("%s:x:%d:%d:%s:%s:/bin/sh", name, uid, gid, name, home)},
		{"group", fmt.Sprintf("%s:x:%d:", name, gid)},
	} {
		old, err := spec.ReadRootFile(rootfs, "/etc/"+f.name)
		if err != nil {
			return err
		}
		id := uid
		if f.name == "group" {
			id = gid
		}
		file := filepath.Join(dir, f.name)
		if err := os.WriteFile(file, spec.AddPasswdEntry(old, f.line, id), 0o644); err != nil {
			return err
		}
		// Owned by the container's root, as the image's file was.
		ru, _ := spec.MapID(uidm, 0)
		rg, _ := spec.MapID(gidm, 0)
		if err := os.Lchown(file, int(ru), int(rg)); err != nil {
			return err
		}
		sp.Mounts = append(sp.Mounts, specs.Mount{Destination: "/etc/" + f.name, Type: "bind", Source: filepath.Join(dir, f.name), Options: []string{"rbind", "ro", "rprivate"}})
	}
	if rec.Options.User != "" {
		return nil
	}
	sp.Process.User = specs.User{UID: uint32(uid), GID: uint32(gid), AdditionalGids: []uint32{uint32(gid)}, Umask: sp.Process.User.Umask}
	for _, kv := range rec.Parsed.Env {
		if strings.HasPrefix(kv, "HOME=") {
			return nil // the user's -e HOME stands
		}
	}
	env := sp.Process.Env[:0:0]
	for _, kv := range sp.Process.Env {
		if !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	sp.Process.Env = append(env, "HOME="+home)
	return nil
}
