package engine

// `cove top`: the container's processes, read from the host's /proc. It
// runs on the host side (no user namespace of cove's own): the owner of
// the container's user namespace may read every /proc/PID entry of its
// processes, including /proc/PID/root, where a sibling namespace could not.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/runtime/caps"
	"github.com/cove-run/cove/internal/state"
)

// TopResult is Docker's ContainerTop answer: a title per column and a row
// of cells per process.
type TopResult struct {
	Titles    []string
	Processes [][]string
}

// procInfo is what /proc says about one process of the container.
type procInfo struct {
	hostPid, hostPpid int
	nsPid, nsPpid     int
	pgid              int
	state             string
	comm              string
	args              []string
	ttyNr             int
	utime, stime      uint64 // clock ticks
	start             uint64 // clock ticks after boot
	nice              int
	vszKiB, rssKiB    uint64
	uids, gids        [2]int // real, effective; host IDs
	// caps are CapInh, CapPrm, CapEff, CapBnd, CapAmb of /proc/PID/status.
	caps [5]uint64
	// seccomp is the Seccomp field: 0 disabled, 1 strict, 2 filter.
	seccomp int
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// TopContainer lists the processes of a running container with the
// columns args asks for (see ParseTopArgs).
func (e *Engine) TopContainer(ref string, args []string) (*TopResult, error) {
	cols, err := ParseTopArgs(args)
	if err != nil {
		return nil, err
	}
	c, _, err := e.lookupReconciled(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Status != state.Running && c.State.Status != state.Paused {
		return nil, fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrInvalidState)
	}
	procs, err := pidNamespaceProcs(c.State.Pid)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	ctx := newTopContext(c.State.Pid)
	for _, p := range procs {
		ctx.nsPids[p.hostPid] = p.nsPid
	}
	res := &TopResult{}
	for _, col := range cols {
		res.Titles = append(res.Titles, col.title)
	}
	for _, p := range procs {
		row := make([]string, len(cols))
		for i, col := range cols {
			row[i] = col.value(ctx, p)
		}
		res.Processes = append(res.Processes, row)
	}
	return res, nil
}

// pidNamespaceProcs reads every process in the pid namespace of pid, in
// the order of their host PIDs.
func pidNamespaceProcs(pid int) ([]*procInfo, error) {
	target, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []*procInfo
	for _, ent := range ents {
		p, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink("/proc/" + ent.Name() + "/ns/pid"); err != nil || ns != target {
			continue
		}
		// A process that exits while we read it is left out.
		if info, err := readProc(p); err == nil {
			out = append(out, info)
		}
	}
	return out, nil
}

func readProc(pid int) (*procInfo, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	stat, err := os.ReadFile(dir + "stat")
	if err != nil {
		return nil, err
	}
	p, err := parseProcStat(stat)
	if err != nil {
		return nil, err
	}
	p.hostPid = pid
	if status, err := os.ReadFile(dir + "status"); err == nil {
		parseProcStatus(status, p)
	}
	if cmdline, err := os.ReadFile(dir + "cmdline"); err == nil && len(cmdline) > 0 {
		p.args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	}
	return p, nil
}

// parseProcStat reads /proc/PID/stat (proc(5)): the command name is field
// 2 in parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func parseProcStat(b []byte) (*procInfo, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return nil, fmt.Errorf("malformed stat")
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 22 {
		return nil, fmt.Errorf("malformed stat")
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	// f[0] is field 3 (state).
	p := &procInfo{comm: string(b[open+1 : end]), state: f[0]}
	p.hostPpid = int(n(1))
	p.pgid = int(n(2))
	p.ttyNr = int(n(4))
	p.utime, p.stime = uint64(n(11)), uint64(n(12))
	p.nice = int(n(16))
	p.start = uint64(n(19))
	p.vszKiB = uint64(n(20)) / 1024
	p.rssKiB = uint64(n(21)) * uint64(os.Getpagesize()) / 1024
	return p, nil
}

// parseProcStatus takes the IDs and namespace PIDs from /proc/PID/status.
func parseProcStatus(b []byte, p *procInfo) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		switch k {
		case "Uid", "Gid":
			if len(f) >= 2 {
				r, _ := strconv.Atoi(f[0])
				e, _ := strconv.Atoi(f[1])
				if k == "Uid" {
					p.uids = [2]int{r, e}
				} else {
					p.gids = [2]int{r, e}
				}
			}
		case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb":
			if len(f) == 1 {
				i := map[string]int{"CapInh": 0, "CapPrm": 1, "CapEff": 2, "CapBnd": 3, "CapAmb": 4}[k]
				p.caps[i], _ = strconv.ParseUint(f[0], 16, 64)
			}
		case "Seccomp":
			if len(f) == 1 {
				p.seccomp, _ = strconv.Atoi(f[0])
			}
		case "NSpid":
			// The last number is the PID in the innermost namespace,
			// the container's.
			if len(f) > 0 {
				p.nsPid, _ = strconv.Atoi(f[len(f)-1])
			}
		}
	}
}

// topContext is what every row needs: the container's ID maps and names.
type topContext struct {
	now, bootTime  time.Time
	uidMap, gidMap [][3]int64
	users, groups  map[int]string
	nsPids         map[int]int // host PID -> container PID
}

func newTopContext(initPid int) *topContext {
	ctx := &topContext{now: time.Now(), nsPids: map[int]int{}}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		ctx.bootTime = ctx.now.Add(-time.Duration(si.Uptime) * time.Second)
	}
	dir := "/proc/" + strconv.Itoa(initPid) + "/"
	ctx.uidMap = readIDMap(dir + "uid_map")
	ctx.gidMap = readIDMap(dir + "gid_map")
	if fd, err := unix.Open(dir+"root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		ctx.users = readNames(fd, "/etc/passwd")
		ctx.groups = readNames(fd, "/etc/group")
		unix.Close(fd)
	}
	return ctx
}

func readIDMap(path string) [][3]int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out [][3]int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		var m [3]int64
		for i := range f {
			m[i], _ = strconv.ParseInt(f[i], 10, 64)
		}
		out = append(out, m)
	}
	return out
}

// toContainer maps a host ID to the container's view, -1 if unmapped.
func toContainer(m [][3]int64, host int) int {
	for _, r := range m {
		if int64(host) >= r[1] && int64(host) < r[1]+r[2] {
			return int(r[0] + int64(host) - r[1])
		}
	}
	return -1
}

// readNames reads name:x:id: lines of the container's passwd or group,
// resolved inside its root.
func readNames(rootFd int, path string) map[int]string {
	fd, err := openInRoot(rootFd, path, true)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	f, err := reopen(fd, "", unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	out := map[int]string{}
	sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 4)
		if len(f) < 3 {
			continue
		}
		if id, err := strconv.Atoi(f[2]); err == nil {
			if _, dup := out[id]; !dup {
				out[id] = f[0]
			}
		}
	}
	return out
}

func (ctx *topContext) userName(hostID int) string {
	return idName(toContainer(ctx.uidMap, hostID), ctx.users)
}

func (ctx *topContext) groupName(hostID int) string {
	return idName(toContainer(ctx.gidMap, hostID), ctx.groups)
}

func idName(id int, names map[int]string) string {
	if id < 0 {
		return "?"
	}
	if n, ok := names[id]; ok {
		return n
	}
	return strconv.Itoa(id)
}

func (ctx *topContext) started(p *procInfo) time.Time {
	return ctx.bootTime.Add(time.Duration(p.start) * time.Second / clockTicks)
}

func cpuTime(p *procInfo) time.Duration {
	return time.Duration(p.utime+p.stime) * time.Second / clockTicks
}

// pcpu is ps's %CPU: CPU time over the time since the process started.
func (ctx *topContext) pcpu(p *procInfo) float64 {
	el := ctx.now.Sub(ctx.started(p))
	if el <= 0 {
		return 0
	}
	return 100 * float64(cpuTime(p)) / float64(el)
}

// tty names a controlling terminal like ps: pts/N, ttyN, or "?".
func tty(nr int) string {
	if nr == 0 {
		return "?"
	}
	major, minor := (nr>>8)&0xfff, (nr&0xff)|((nr>>12)&0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return "pts/" + strconv.Itoa((major-136)*256+minor)
	case major == 4 && minor < 64:
		return "tty" + strconv.Itoa(minor)
	}
	return "?"
}

// clock formats a duration as ps's TIME ([DD-]HH:MM:SS).
func clock(d time.Duration) string {
	s := int64(d / time.Second)
	out := fmt.Sprintf("%02d:%02d:%02d", s/3600%24, s/60%60, s%60)
	if days := s / 86400; days > 0 {
		out = fmt.Sprintf("%d-%s", days, out)
	}
	return out
}

func (ctx *topContext) stime(p *procInfo) string {
	t := ctx.started(p)
	if t.YearDay() == ctx.now.YearDay() && t.Year() == ctx.now.Year() {
		return t.Format("15:04")
	}
	return t.Format("Jan02")
}

func command(p *procInfo) string {
	if len(p.args) == 0 {
		return "[" + p.comm + "]"
	}
	return strings.Join(p.args, " ")
}

// capNames prints a capability set as Podman's top does: "full", "none",
// or the names without CAP_.
func capNames(set uint64) string {
	all := uint64(1)<<uint(caps.Last()+1) - 1
	switch {
	case set == 0:
		return "none"
	case set&all == all:
		return "full"
	}
	var names []string
	for _, n := range caps.Set(set).Names() {
		names = append(names, strings.TrimPrefix(n, "CAP_"))
	}
	return strings.Join(names, ",")
}

func seccompMode(m int) string {
	switch m {
	case 1:
		return "strict"
	case 2:
		return "filter"
	}
	return "disabled"
}

// securityLabel is the process's LSM label (SELinux, AppArmor), "-" if none.
func securityLabel(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/attr/current")
	if s := strings.TrimRight(string(b), "\x00\n"); err == nil && s != "" {
		return s
	}
	return "-"
}
