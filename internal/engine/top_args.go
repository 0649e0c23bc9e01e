package engine

import (
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
)

// topColumn is one column of `top`.
type topColumn struct {
	title string
	value func(ctx *topContext, p *procInfo) string
}

// topDescriptors are the column names `top` accepts: Podman's descriptors
// and the ps(1) names for the same things. hostPids chooses what PID and
// PPID mean: the host's, as Docker's `ps` run on the host shows them, or
// the container's, as Podman's descriptors do (HPID is always the host's).
func topDescriptors(hostPids bool) map[string]topColumn {
	pid := func(ctx *topContext, p *procInfo) string { return strconv.Itoa(p.nsPid) }
	ppid := func(ctx *topContext, p *procInfo) string { return strconv.Itoa(ctx.nsPids[p.hostPpid]) }
	if hostPids {
		pid = func(ctx *topContext, p *procInfo) string { return strconv.Itoa(p.hostPid) }
		ppid = func(ctx *topContext, p *procInfo) string { return strconv.Itoa(p.hostPpid) }
	}
	args := topColumn{"COMMAND", func(ctx *topContext, p *procInfo) string { return command(p) }}
	pcpu := topColumn{"%CPU", func(ctx *topContext, p *procInfo) string { return strconv.FormatFloat(ctx.pcpu(p), 'f', 1, 64) }}
	state := topColumn{"STAT", func(ctx *topContext, p *procInfo) string { return p.state }}
	nice := topColumn{"NI", func(ctx *topContext, p *procInfo) string { return strconv.Itoa(p.nice) }}
	user := topColumn{"USER", func(ctx *topContext, p *procInfo) string { return ctx.userName(p.uids[1]) }}
	group := topColumn{"GROUP", func(ctx *topContext, p *procInfo) string { return ctx.groupName(p.gids[1]) }}
	d := map[string]topColumn{
		"args":    args,
		"cmd":     args,
		"comm":    {"COMMAND", func(ctx *topContext, p *procInfo) string { return p.comm }},
		"etime":   {"ELAPSED", func(ctx *topContext, p *procInfo) string { return clock(ctx.now.Sub(ctx.started(p))) }},
		"group":   group,
		"egroup":  group,
		"hgroup":  {"HGROUP", func(ctx *topContext, p *procInfo) string { return strconv.Itoa(p.gids[1]) }},
		"hpid":    {"HPID", func(ctx *topContext, p *procInfo) string { return strconv.Itoa(p.hostPid) }},
		"huser":   {"HUSER", func(ctx *topContext, p *procInfo) string { return strconv.Itoa(p.uids[1]) }},
		"nice":    nice,
		"ni":      nice,
		"pcpu":    pcpu,
		"%cpu":    pcpu,
		"pgid":    {"PGID", func(ctx *topContext, p *procInfo) string { return strconv.Itoa(p.pgid) }},
		"pid":     {"PID", pid},
		"ppid":    {"PPID", ppid},
		"rgroup":  {"RGROUP", func(ctx *topContext, p *procInfo) string { return ctx.groupName(p.gids[0]) }},
		"ruser":   {"RUSER", func(ctx *topContext, p *procInfo) string { return ctx.userName(p.uids[0]) }},
		"state":   state,
		"stat":    state,
		"s":       state,
		"stime":   {"STIME", func(ctx *topContext, p *procInfo) string { return ctx.stime(p) }},
		"time":    {"TIME", func(ctx *topContext, p *procInfo) string { return clock(cpuTime(p)) }},
		"tty":     {"TTY", func(ctx *topContext, p *procInfo) string { return tty(p.ttyNr) }},
		"user":    user,
		"euser":   user,
		"uid":     {"UID", func(ctx *topContext, p *procInfo) string { return strconv.Itoa(toContainer(ctx.uidMap, p.uids[1])) }},
		"gid":     {"GID", func(ctx *topContext, p *procInfo) string { return strconv.Itoa(toContainer(ctx.gidMap, p.gids[1])) }},
		"capinh":  {"INHERITED CAPS", func(ctx *topContext, p *procInfo) string { return capNames(p.caps[0]) }},
		"capprm":  {"PERMITTED CAPS", func(ctx *topContext, p *procInfo) string { return capNames(p.caps[1]) }},
		"capeff":  {"EFFECTIVE CAPS", func(ctx *topContext, p *procInfo) string { return capNames(p.caps[2]) }},
		"capbnd":  {"BOUNDING CAPS", func(ctx *topContext, p *procInfo) string { return capNames(p.caps[3]) }},
		"capamb":  {"AMBIENT CAPS", func(ctx *topContext, p *procInfo) string { return capNames(p.caps[4]) }},
		"seccomp": {"SECCOMP", func(ctx *topContext, p *procInfo) string { return seccompMode(p.seccomp) }},
		"label":   {"LABEL", func(ctx *topContext, p *procInfo) string { return securityLabel(p.hostPid) }},
		"vsz":     {"VSZ", func(ctx *topContext, p *procInfo) string { return strconv.FormatUint(p.vszKiB, 10) }},
		"rss":     {"RSS", func(ctx *topContext, p *procInfo) string { return strconv.FormatUint(p.rssKiB, 10) }},
	}
	return d
}

// topDefault is Docker's `ps -ef`: UID PID PPID C STIME TTY TIME CMD, with
// user names as the container knows them.
func topDefault() []topColumn {
	d := topDescriptors(true)
	return []topColumn{
		{"UID", d["user"].value},
		d["pid"], d["ppid"],
		{"C", func(ctx *topContext, p *procInfo) string { return strconv.Itoa(int(ctx.pcpu(p))) }},
		d["stime"], d["tty"], d["time"],
		{"CMD", d["args"].value},
	}
}

// topBSD is `ps aux`.
func topBSD() []topColumn {
	d := topDescriptors(true)
	mem := func(ctx *topContext, p *procInfo) string {
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) != nil || si.Totalram == 0 {
			return "0.0"
		}
		total := float64(si.Totalram) * float64(si.Unit) / 1024
		return strconv.FormatFloat(100*float64(p.rssKiB)/total, 'f', 1, 64)
	}
	return []topColumn{
		d["user"], d["pid"], d["pcpu"], {"%MEM", mem}, d["vsz"], d["rss"], d["tty"], d["stat"],
		{"START", d["stime"].value}, d["time"], d["args"],
	}
}

// ParseTopArgs reads `top`'s arguments after the container: nothing or
// ps's -ef (Docker's default columns), ps's aux, ps's -o LIST (or -eo
// LIST), or Podman's descriptors (pid user args, or pid,user,args).
func ParseTopArgs(args []string) ([]topColumn, error) {
	if len(args) == 0 {
		return topDefault(), nil
	}
	switch strings.Join(args, " ") {
	case "-ef", "-e -f", "-f -e", "-fe", "-e", "-f", "-A", "-Af", "-eF":
		return topDefault(), nil
	case "aux", "-aux", "axu", "au", "ax":
		return topBSD(), nil
	}
	var names []string
	hostPids := false
	if args[0] == "-o" || args[0] == "-eo" || args[0] == "-Ao" || args[0] == "o" {
		if len(args) < 2 {
			return nil, errdefs.InvalidArgument("top: %s needs a list of columns, e.g. -o pid,user,args", args[0])
		}
		hostPids = true
		args = args[1:]
	}
	for _, a := range args {
		for _, n := range strings.Split(a, ",") {
			if n != "" {
				names = append(names, n)
			}
		}
	}
	d := topDescriptors(hostPids)
	var cols []topColumn
	for _, n := range names {
		// ps allows a header of one's own: pid=ID.
		name, title, renamed := strings.Cut(n, "=")
		c, ok := d[strings.ToLower(name)]
		if !ok {
			known := make([]string, 0, len(d))
			for k := range d {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, errdefs.InvalidArgument("top: unknown descriptor or ps option %q: use -ef, aux, -o LIST, or descriptors from: %s", n, strings.Join(known, ", "))
		}
		if renamed {
			c.title = title
		}
		cols = append(cols, c)
	}
	if len(cols) == 0 {
		return nil, errdefs.InvalidArgument("top: no columns in %q", strings.Join(args, " "))
	}
	return cols, nil
}
