package runtime

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cove-run/cove/internal/runtime/caps"
	"github.com/cove-run/cove/internal/runtime/mount"
	"github.com/cove-run/cove/internal/runtime/proto"
)

// The C init (initproc's cinit_linux.c) sets a container up from the
// binary's C constructor, before the Go runtime starts: about 4-5 ms less
// per container than the Go init, whose start alone (loader, runtime,
// package init) cost that much. It does no thinking: the parent decides
// here whether it can run a container at all, and digests everything into
// a plan the C code executes step by step. The Go init stays for what the
// C init does not do:
//
//   - a terminal (console allocation in the container's devpts, the
//     master passed back by SCM_RIGHTS);
//   - the --init reaper, which lives on as PID 1 and needs Go;
//   - anything that the planner finds wrong (an unsupported mount option,
//     propagation mode, a NUL in a string, supplementary groups where
//     setgroups is denied): the Go init reports those with its exact
//     stage and words, and they are too rare to port.

// forceGoInit makes Start use the Go init for every container (tests, and
// _COVE_INIT_GO=1 for comparisons).
var forceGoInit atomic.Bool

// goInitEnv, set to 1 in the caller's environment, keeps the Go init.
const goInitEnv = "_COVE_INIT_GO"

// planBuilder writes the plan's encoding (read by parse_plan in
// cinit_linux.c, whose comment shows the layout): native byte order, a
// string as length, bytes and NUL, an array as its count and elements.
type planBuilder struct {
	b []byte
	// bad is set by a string the C side could not take (an inner NUL).
	bad bool
}

func (w *planBuilder) u32(v uint32) { w.b = binary.NativeEndian.AppendUint32(w.b, v) }
func (w *planBuilder) u64(v uint64) { w.b = binary.NativeEndian.AppendUint64(w.b, v) }

func (w *planBuilder) str(s string) {
	if strings.IndexByte(s, 0) >= 0 {
		w.bad = true
	}
	w.u32(uint32(len(s)))
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
}

func (w *planBuilder) strs(list []string) {
	w.u32(uint32(len(list)))
	for _, s := range list {
		w.str(s)
	}
}

// capList writes the capabilities of set that the kernel knows, as
// number and name (for messages); none unless on.
func (w *planBuilder) capList(set caps.Set, on bool) {
	var list []int
	for n := 0; on && n <= caps.Last(); n++ {
		if set.Has(n) {
			list = append(list, n)
		}
	}
	w.u32(uint32(len(list)))
	for _, n := range list {
		w.u32(uint32(n))
		w.str(caps.Name(n))
	}
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// Flags of the plan's header (PLAN_* in cinit_linux.c).
const (
	planRootReadonly = 1 << iota
	planNoNewPrivs
	planWaitGo
	planSetgroups
	planCaps
	planDevLinks
	planPtmxLink
	planPathSearch
)

// cPlan returns the C init's plan for c, or ok false when the Go init must
// run it. hasUserNS tells whether the init gets a user namespace of its
// own (whose gid_map is the spec's), else it lives in ours.
func cPlan(c *proto.Config, s *specs.Spec, hasUserNS bool) (plan []byte, ok bool) {
	if !proto.CInitLinked || forceGoInit.Load() || os.Getenv(goInitEnv) == "1" || c.Terminal || c.Init {
		return nil, false
	}
	propagation, err := mount.PropagationFlag(c.RootfsPropagation)
	if err != nil {
		return nil, false
	}
	facts := mount.HostFacts{Exists: func(p string) bool { _, err := os.Stat(p); return err == nil }}
	setgroups := true
	if hasUserNS {
		// Start writes these maps, with setgroups allowed.
		facts.GIDMapped = func(g uint32) bool {
			for _, m := range s.Linux.GIDMappings {
				if g >= m.ContainerID && uint64(g) < uint64(m.ContainerID)+uint64(m.Size) {
					return true
				}
			}
			return false
		}
	} else {
		facts.GIDMapped = mount.GIDMapFunc(os.ReadFile("/proc/self/gid_map"))
		// A single-ID namespace is made with setgroups denied: the init
		// keeps the inherited list, which is fine unless groups other than
		// the primary one are asked for (the Go init's error).
		if b, err := os.ReadFile("/proc/self/setgroups"); err == nil && strings.TrimSpace(string(b)) == "deny" {
			setgroups = false
			for _, g := range c.AdditionalGids {
				if g != c.GID {
					return nil, false
				}
			}
		}
	}
	var steps []mount.Step
	devTmpfs, devpts := false, false
	for _, m := range c.Mounts {
		st, err := mount.Plan(m, facts)
		if err != nil {
			return nil, false
		}
		devTmpfs, devpts = devTmpfs || st.DevTmpfs, devpts || st.Devpts
		steps = append(steps, st)
	}

	w := &planBuilder{b: make([]byte, 0, 4096)}
	w.b = append(w.b, "COVEPLN1"...)
	var flags uint32
	set := func(f uint32, on bool) {
		if on {
			flags |= f
		}
	}
	set(planRootReadonly, c.RootReadonly)
	set(planNoNewPrivs, c.NoNewPrivileges)
	set(planWaitGo, c.WaitGo)
	set(planSetgroups, setgroups)
	set(planCaps, c.Caps != nil)
	// The links and /dev/ptmx depend on the tmpfs on /dev having been
	// mounted, which a failure would have reported first.
	set(planDevLinks, devTmpfs)
	set(planPtmxLink, devTmpfs && devpts)
	search := !strings.Contains(c.Args[0], "/")
	set(planPathSearch, search)
	w.u32(flags)
	w.u64(uint64(propagation))
	w.str(c.Rootfs)

	w.u32(uint32(len(steps)))
	for _, st := range steps {
		w.u32(boolU32(st.Bind))
		w.str(st.Source)
		w.str(st.Dest)
		w.str(st.FSType)
		w.str(st.Data)
		w.u64(uint64(st.Flags))
		w.u64(uint64(st.Cleared))
		w.u32(boolU32(st.Rec))
		w.u64(st.Recursive)
		w.u32(boolU32(st.RecursiveBestEffort))
		w.u32(uint32(len(st.Propagation)))
		for _, p := range st.Propagation {
			w.u64(uint64(p))
		}
		w.u32(uint32(st.Fallback))
		w.str(st.FallbackSource)
		w.u64(uint64(st.FallbackFlags))
		w.u64(st.FallbackRecursive)
	}

	devices := make([]mount.Device, len(c.Devices))
	for i, d := range c.Devices {
		devices[i] = mount.Device{Source: d.Source, Path: d.Path}
	}
	binds := mount.DevicesToBind(devTmpfs, devices)
	w.u32(uint32(len(binds)))
	for _, d := range binds {
		w.str(d.Source)
		w.str(d.Path)
	}

	keys := make([]string, 0, len(c.Sysctl))
	for k := range c.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.u32(uint32(len(keys)))
	for _, k := range keys {
		w.str(k)
		w.str(c.Sysctl[k])
		w.str("/proc/sys/" + strings.ReplaceAll(k, ".", "/"))
	}
	w.strs(c.MaskedPaths)
	w.strs(c.ReadonlyPaths)
	w.str(c.Hostname)
	w.str(fmt.Sprintf("setting hostname %q", c.Hostname))
	w.str(c.Domainname)
	w.str(fmt.Sprintf("setting domain name %q", c.Domainname))

	w.u32(uint32(len(c.Rlimits)))
	for _, l := range c.Rlimits {
		w.u32(uint32(l.Resource))
		w.u64(l.Soft)
		w.u64(l.Hard)
		w.str(l.Name)
	}

	cwd := c.Cwd
	if cwd == "" {
		cwd = "/"
	}
	w.str(cwd)

	var sets proto.Caps
	if c.Caps != nil {
		sets = *c.Caps
	}
	var bounding caps.Set
	if c.Caps != nil {
		bounding = caps.Set(sets.Bounding)
	}
	// Numbers and names: the bounding set's complement to drop (nothing
	// without a capabilities object), then the ambient set to raise.
	w.capList(^bounding, c.Caps != nil)
	w.u64(sets.Effective)
	w.u64(sets.Permitted)
	w.u64(sets.Inheritable)
	w.str(fmt.Sprintf("setting effective %#x, permitted %#x, inheritable %#x", sets.Effective, sets.Permitted, sets.Inheritable))
	w.capList(caps.Set(sets.Ambient), true)

	w.u32(c.UID)
	w.u32(c.GID)
	w.u32(uint32(len(c.AdditionalGids)))
	for _, g := range c.AdditionalGids {
		w.u32(g)
	}
	w.str(fmt.Sprint(c.AdditionalGids))

	if c.Seccomp != nil {
		w.u32(uint32(c.Seccomp.Flags))
		w.u32(uint32(len(c.Seccomp.Program)))
		w.b = append(w.b, c.Seccomp.Program...)
	} else {
		w.u32(0)
		w.u32(0)
	}

	w.strs(c.Args)
	w.strs(c.Env)
	pathEnv := defaultPath
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v // the last one wins, as in execve users
		}
	}
	w.str(pathEnv)
	w.str(fmt.Sprintf("exec: %q: executable file not found in $PATH", c.Args[0]))
	w.b = append(w.b, "END!"...)
	if w.bad {
		return nil, false
	}
	return w.b, true
}

// defaultPath is searched when the container's environment has no PATH,
// as in Docker (and initproc's lookPath).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
