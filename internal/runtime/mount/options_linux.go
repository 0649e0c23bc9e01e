package mount

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// options is a spec mount's option list split into what mount(2) takes as
// flags, what it takes as data, and what needs a separate call.
type options struct {
	// flags are MS_* bits to set (never MS_BIND/MS_REC; see bind, rec).
	flags uintptr
	// cleared are MS_* bits the options explicitly turn off ("rw", "suid",
	// "exec", "dev", ...). They matter for bind remounts, where every flag
	// not passed is cleared, and for telling a requested "rw" apart from an
	// unspecified one.
	cleared uintptr
	// propagation holds MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE, each
	// possibly with MS_REC; the kernel takes one per mount(2) call.
	propagation []uintptr
	// recursive holds MOUNT_ATTR_* bits to apply to a whole bind tree
	// ("rro", "rnosuid", ...), see mount_setattr(2).
	recursive uint64
	// recursiveBestEffort skips recursive when the kernel lacks
	// mount_setattr(2).
	recursiveBestEffort bool
	bind, rec           bool
	data                []string
}

// atimeFlags are the mount flags that choose an access-time policy; the
// kernel treats them as one field.
const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_NODIRATIME

func parseOptions(list []string) (options, error) {
	var o options
	set := func(f uintptr) { o.flags |= f; o.cleared &^= f }
	clear := func(f uintptr) { o.cleared |= f; o.flags &^= f }
	for _, opt := range list {
		switch opt {
		case "", "defaults":
		case "ro":
			set(unix.MS_RDONLY)
		case "rw":
			clear(unix.MS_RDONLY)
		case "nosuid":
			set(unix.MS_NOSUID)
		case "suid":
			clear(unix.MS_NOSUID)
		case "nodev":
			set(unix.MS_NODEV)
		case "dev":
			clear(unix.MS_NODEV)
		case "noexec":
			set(unix.MS_NOEXEC)
		case "exec":
			clear(unix.MS_NOEXEC)
		case "sync":
			set(unix.MS_SYNCHRONOUS)
		case "async":
			clear(unix.MS_SYNCHRONOUS)
		case "dirsync":
			set(unix.MS_DIRSYNC)
		case "mand":
			set(unix.MS_MANDLOCK)
		case "nomand":
			clear(unix.MS_MANDLOCK)
		case "silent":
			set(unix.MS_SILENT)
		case "loud":
			clear(unix.MS_SILENT)
		case "noatime":
			set(unix.MS_NOATIME)
		case "atime":
			clear(unix.MS_NOATIME)
		case "nodiratime":
			set(unix.MS_NODIRATIME)
		case "diratime":
			clear(unix.MS_NODIRATIME)
		case "relatime":
			set(unix.MS_RELATIME)
		case "norelatime":
			clear(unix.MS_RELATIME)
		case "strictatime":
			set(unix.MS_STRICTATIME)
		case "nostrictatime":
			clear(unix.MS_STRICTATIME)
		case "bind":
			o.bind = true
		case "rbind":
			o.bind, o.rec = true, true
		case "private":
			o.propagation = append(o.propagation, unix.MS_PRIVATE)
		case "rprivate":
			o.propagation = append(o.propagation, unix.MS_PRIVATE|unix.MS_REC)
		case "shared":
			o.propagation = append(o.propagation, unix.MS_SHARED)
		case "rshared":
			o.propagation = append(o.propagation, unix.MS_SHARED|unix.MS_REC)
		case "slave":
			o.propagation = append(o.propagation, unix.MS_SLAVE)
		case "rslave":
			o.propagation = append(o.propagation, unix.MS_SLAVE|unix.MS_REC)
		case "unbindable":
			o.propagation = append(o.propagation, unix.MS_UNBINDABLE)
		case "runbindable":
			o.propagation = append(o.propagation, unix.MS_UNBINDABLE|unix.MS_REC)
		case "rro":
			o.recursive |= unix.MOUNT_ATTR_RDONLY
		case "rnosuid":
			o.recursive |= unix.MOUNT_ATTR_NOSUID
		case "rnodev":
			o.recursive |= unix.MOUNT_ATTR_NODEV
		case "rnoexec":
			o.recursive |= unix.MOUNT_ATTR_NOEXEC
		case "z", "Z":
			// SELinux relabel requests: cove does not label; nothing to do.
		case "tmpcopyup", "idmap", "ridmap", "copy", "nocopy":
			return o, fmt.Errorf("mount option %q is not supported", opt)
		default:
			// Anything else is file-system specific (size=, mode=, uid=,
			// newinstance, ...) and goes to the kernel as data, which
			// reports what it does not understand.
			o.data = append(o.data, opt)
		}
	}
	return o, nil
}

func (o options) dataString() string { return strings.Join(o.data, ",") }

// statfsToMount converts statfs(2) f_flags (ST_*) to the MS_* flags a bind
// remount must repeat.
func statfsToMount(st int64) uintptr {
	var f uintptr
	for _, p := range [...]struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_SYNCHRONOUS, unix.MS_SYNCHRONOUS},
		{unix.ST_MANDLOCK, unix.MS_MANDLOCK},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st&p.st != 0 {
			f |= p.ms
		}
	}
	return f
}

// flagNames renders MS_* flags for error messages.
func flagNames(f uintptr) string {
	var out []string
	for _, p := range [...]struct {
		f    uintptr
		name string
	}{
		{unix.MS_REMOUNT, "remount"}, {unix.MS_BIND, "bind"}, {unix.MS_REC, "rec"},
		{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"},
		{unix.MS_NOEXEC, "noexec"}, {unix.MS_SYNCHRONOUS, "sync"}, {unix.MS_DIRSYNC, "dirsync"},
		{unix.MS_MANDLOCK, "mand"}, {unix.MS_NOATIME, "noatime"}, {unix.MS_NODIRATIME, "nodiratime"},
		{unix.MS_RELATIME, "relatime"}, {unix.MS_STRICTATIME, "strictatime"},
		{unix.MS_PRIVATE, "private"}, {unix.MS_SLAVE, "slave"}, {unix.MS_SHARED, "shared"},
		{unix.MS_UNBINDABLE, "unbindable"},
	} {
		if f&p.f != 0 {
			out = append(out, p.name)
			f &^= p.f
		}
	}
	if f != 0 {
		out = append(out, fmt.Sprintf("%#x", f))
	}
	return strings.Join(out, ",")
}
