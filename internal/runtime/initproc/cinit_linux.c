// The container init in C: the role cove-init up to the execve of the
// container's command, run from this constructor before the Go runtime
// starts, for every container the parent (runtime.Start) found ordinary
// enough (no terminal, no --init reaper; see cplan_linux.go there).
//
// Why C: the Go init paid, before its first mount, the dynamic loader, the
// Go runtime's start (threads, heap, signal handlers) and the package init
// of everything initproc imports, about 4.5 ms; and Go's set*id and
// setgroups wrappers signal every thread of the runtime to change them all.
// Here the process is still the single thread clone(2) made, so every
// per-thread attribute (capabilities, the parent-death signal,
// no_new_privs, the keep-capabilities bit, credentials) is simply the
// process's, and each step is one system call.
//
// The parent keeps all the judgment: it digests the spec into a plan
// (mount kinds and flags, which fallback applies where, the seccomp filter
// compiled to BPF, capability numbers and names, the PATH to search, the
// texts of messages that need Go's formatting) and sends it on ConfigFD
// in a binary encoding (see the layout at parse_plan). This file executes
// it step by step, in exactly the order of init_linux.go's run(), whose
// comments give the reasons for that order; the comments here say what the
// kernel requires at each step. A failure is reported on SyncFD as the JSON
// proto.Message the Go init would have sent (same stage, errno, exit code
// and, as far as the texts go, the same words), then the process exits.
//
// The process was executed through the read-only detached mount of the
// cove binary (fd ExeFD, closed at once), exactly like the Go init: the
// protection of the binary (see "Protecting the cove binary" in package
// runtime) is unchanged.

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <dirent.h>

// Descriptors of the init (proto.ConfigFD, SyncFD, ExeFD).
#define CONFIG_FD 3
#define SYNC_FD 4
#define EXE_FD 5

// Newer kernel interfaces, spelled out where old headers lack them.
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pivot_root
#define SYS_pivot_root __NR_pivot_root
#endif
#define COVE_RESOLVE_NO_MAGICLINKS 0x02
#define COVE_RESOLVE_IN_ROOT 0x10
#define COVE_CLOSE_RANGE_CLOEXEC (1U << 2)
#define COVE_AT_RECURSIVE 0x8000
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC
#define SECCOMP_FILTER_FLAG_TSYNC 1
#endif

struct cove_open_how {
	uint64_t flags, mode, resolve;
};

struct cove_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

// ---------------------------------------------------------------------
// The plan.

struct plan_mount {
	uint32_t bind;
	const char *source, *dest, *fstype, *data;
	uint64_t flags, cleared;
	uint32_t rec;
	uint64_t recursive;
	uint32_t recursive_best_effort;
	uint32_t nprop;
	const unsigned char *prop; // nprop u64s
	uint32_t fallback;	   // 0 none, 1 on EPERM, 2 on any error
	const char *fb_source;
	uint64_t fb_flags, fb_recursive;
};

struct plan_pair {
	const char *a, *b, *c;
};

struct plan_rlimit {
	uint32_t resource;
	uint64_t soft, hard;
	const char *name;
};

struct plan_cap {
	uint32_t cap;
	const char *name;
};

// Flags of the plan's header.
#define PLAN_ROOT_READONLY 1u
#define PLAN_NO_NEW_PRIVS 2u
#define PLAN_WAIT_GO 4u
#define PLAN_SETGROUPS 8u
#define PLAN_CAPS 16u
#define PLAN_DEV_LINKS 32u
#define PLAN_PTMX_LINK 64u
#define PLAN_PATH_SEARCH 128u

struct plan {
	uint32_t flags;
	uint64_t propagation;
	const char *rootfs;
	uint32_t nmounts;
	struct plan_mount *mounts;
	uint32_t ndevices;
	struct plan_pair *devices; // source, path
	uint32_t nsysctls;
	struct plan_pair *sysctls; // key, value, /proc/sys path
	uint32_t nmasked, nreadonly;
	const char **masked, **readonly;
	const char *hostname, *hostname_text, *domainname, *domainname_text;
	uint32_t nrlimits;
	struct plan_rlimit *rlimits;
	const char *cwd;
	uint32_t ndrop;
	struct plan_cap *drop;
	uint64_t effective, permitted, inheritable;
	const char *capset_text;
	uint32_t nambient;
	struct plan_cap *ambient;
	uint32_t uid, gid, ngroups;
	gid_t *groups;
	const char *groups_text;
	uint32_t seccomp_flags, seccomp_len;
	const unsigned char *seccomp; // seccomp_len bytes of struct sock_filter
	uint32_t nargs, nenv;
	char **args, **env; // NULL-terminated
	const char *path;   // the PATH to search (PLAN_PATH_SEARCH)
	const char *notfound_text;
};

struct cursor {
	const unsigned char *p, *end;
	int bad;
};

static uint32_t get_u32(struct cursor *c)
{
	uint32_t v = 0;
	if (c->bad || c->end - c->p < 4) {
		c->bad = 1;
		return 0;
	}
	memcpy(&v, c->p, 4);
	c->p += 4;
	return v;
}

static uint64_t get_u64(struct cursor *c)
{
	uint64_t v = 0;
	if (c->bad || c->end - c->p < 8) {
		c->bad = 1;
		return 0;
	}
	memcpy(&v, c->p, 8);
	c->p += 8;
	return v;
}

// get_bytes returns n bytes in place.
static const unsigned char *get_bytes(struct cursor *c, uint32_t n)
{
	if (c->bad || (uint64_t)(c->end - c->p) < (uint64_t)n) {
		c->bad = 1;
		return NULL;
	}
	const unsigned char *b = c->p;
	c->p += n;
	return b;
}

// get_str returns a string in place: the encoding is a length, the bytes
// and a NUL, and a string may hold no other NUL (a path or an argument
// cut short at one would silently be another).
static const char *get_str(struct cursor *c)
{
	uint32_t n = get_u32(c);
	const unsigned char *b = get_bytes(c, n);
	const unsigned char *z = get_bytes(c, 1);
	if (c->bad || *z != 0 || memchr(b, 0, n) != NULL) {
		c->bad = 1;
		return "";
	}
	return (const char *)b;
}

// get_count reads an array length, refusing one that the rest of the
// input could not hold (each element takes at least min bytes), so that a
// corrupt length cannot make us allocate gigabytes.
static uint32_t get_count(struct cursor *c, size_t min)
{
	uint32_t n = get_u32(c);
	if (c->bad || (uint64_t)n * min > (uint64_t)(c->end - c->p)) {
		c->bad = 1;
		return 0;
	}
	return n;
}

static void *alloc(size_t n, size_t size)
{
	void *p = calloc(n + 1, size);
	if (!p)
		abort();
	return p;
}

static const char plan_magic[8] = {'C', 'O', 'V', 'E', 'P', 'L', 'N', '1'};
static const char plan_end[4] = {'E', 'N', 'D', '!'};

// parse_plan decodes the plan in buf. Its layout (integers in native byte
// order, a string as u32 length + bytes + NUL, an array as u32 count +
// elements), written by runtime's cplan_linux.go:
//
//	"COVEPLN1" u32 flags, u64 root propagation, str rootfs
//	mounts:   bind u32, source, dest, fstype, data, flags u64, cleared
//	          u64, rec u32, recursive u64, best-effort u32, propagation
//	          [u64], fallback u32, fallback source, fallback flags u64,
//	          fallback recursive u64
//	devices:  [source, path]; sysctls: [key, value, path]
//	masked:   [str]; read-only: [str]
//	hostname, its message text, domain name, its message text
//	rlimits:  [resource u32, soft u64, hard u64, name]
//	cwd; bounding drops [cap u32, name]; effective, permitted,
//	inheritable u64; capset message text; ambient [cap u32, name]
//	uid u32, gid u32, groups [u32], groups text
//	seccomp flags u32, program (u32 length + bytes)
//	args [str], env [str], PATH, not-found text, "END!"
//
// It returns 0, or -1 when buf is not a complete, well-formed plan.
static int parse_plan(const unsigned char *buf, size_t len, struct plan *pl)
{
	struct cursor c = {buf, buf + len, 0};
	memset(pl, 0, sizeof *pl);
	const unsigned char *m = get_bytes(&c, 8);
	if (c.bad || memcmp(m, plan_magic, 8) != 0)
		return -1;
	pl->flags = get_u32(&c);
	pl->propagation = get_u64(&c);
	pl->rootfs = get_str(&c);

	pl->nmounts = get_count(&c, 64);
	pl->mounts = alloc(pl->nmounts, sizeof *pl->mounts);
	for (uint32_t i = 0; i < pl->nmounts && !c.bad; i++) {
		struct plan_mount *mt = &pl->mounts[i];
		mt->bind = get_u32(&c);
		mt->source = get_str(&c);
		mt->dest = get_str(&c);
		mt->fstype = get_str(&c);
		mt->data = get_str(&c);
		mt->flags = get_u64(&c);
		mt->cleared = get_u64(&c);
		mt->rec = get_u32(&c);
		mt->recursive = get_u64(&c);
		mt->recursive_best_effort = get_u32(&c);
		mt->nprop = get_count(&c, 8);
		mt->prop = get_bytes(&c, mt->nprop * 8);
		mt->fallback = get_u32(&c);
		mt->fb_source = get_str(&c);
		mt->fb_flags = get_u64(&c);
		mt->fb_recursive = get_u64(&c);
		if (mt->dest[0] != '/' || mt->fallback > 2)
			c.bad = 1;
	}
	pl->ndevices = get_count(&c, 10);
	pl->devices = alloc(pl->ndevices, sizeof *pl->devices);
	for (uint32_t i = 0; i < pl->ndevices && !c.bad; i++) {
		pl->devices[i].a = get_str(&c);
		pl->devices[i].b = get_str(&c);
	}
	pl->nsysctls = get_count(&c, 15);
	pl->sysctls = alloc(pl->nsysctls, sizeof *pl->sysctls);
	for (uint32_t i = 0; i < pl->nsysctls && !c.bad; i++) {
		pl->sysctls[i].a = get_str(&c);
		pl->sysctls[i].b = get_str(&c);
		pl->sysctls[i].c = get_str(&c);
	}
	pl->nmasked = get_count(&c, 5);
	pl->masked = alloc(pl->nmasked, sizeof *pl->masked);
	for (uint32_t i = 0; i < pl->nmasked && !c.bad; i++)
		pl->masked[i] = get_str(&c);
	pl->nreadonly = get_count(&c, 5);
	pl->readonly = alloc(pl->nreadonly, sizeof *pl->readonly);
	for (uint32_t i = 0; i < pl->nreadonly && !c.bad; i++)
		pl->readonly[i] = get_str(&c);
	pl->hostname = get_str(&c);
	pl->hostname_text = get_str(&c);
	pl->domainname = get_str(&c);
	pl->domainname_text = get_str(&c);
	pl->nrlimits = get_count(&c, 25);
	pl->rlimits = alloc(pl->nrlimits, sizeof *pl->rlimits);
	for (uint32_t i = 0; i < pl->nrlimits && !c.bad; i++) {
		pl->rlimits[i].resource = get_u32(&c);
		pl->rlimits[i].soft = get_u64(&c);
		pl->rlimits[i].hard = get_u64(&c);
		pl->rlimits[i].name = get_str(&c);
	}
	pl->cwd = get_str(&c);
	pl->ndrop = get_count(&c, 9);
	pl->drop = alloc(pl->ndrop, sizeof *pl->drop);
	for (uint32_t i = 0; i < pl->ndrop && !c.bad; i++) {
		pl->drop[i].cap = get_u32(&c);
		pl->drop[i].name = get_str(&c);
	}
	pl->effective = get_u64(&c);
	pl->permitted = get_u64(&c);
	pl->inheritable = get_u64(&c);
	pl->capset_text = get_str(&c);
	pl->nambient = get_count(&c, 9);
	pl->ambient = alloc(pl->nambient, sizeof *pl->ambient);
	for (uint32_t i = 0; i < pl->nambient && !c.bad; i++) {
		pl->ambient[i].cap = get_u32(&c);
		pl->ambient[i].name = get_str(&c);
	}
	pl->uid = get_u32(&c);
	pl->gid = get_u32(&c);
	pl->ngroups = get_count(&c, 4);
	pl->groups = alloc(pl->ngroups, sizeof *pl->groups);
	for (uint32_t i = 0; i < pl->ngroups && !c.bad; i++)
		pl->groups[i] = get_u32(&c);
	pl->groups_text = get_str(&c);
	pl->seccomp_flags = get_u32(&c);
	pl->seccomp_len = get_u32(&c);
	pl->seccomp = get_bytes(&c, pl->seccomp_len);
	// struct sock_fprog counts instructions in an unsigned short, and the
	// kernel takes at most BPF_MAXINSNS (4096) of them.
	if (pl->seccomp_len % 8 != 0 || pl->seccomp_len / 8 > 4096)
		c.bad = 1;
	pl->nargs = get_count(&c, 5);
	pl->args = alloc(pl->nargs, sizeof *pl->args);
	for (uint32_t i = 0; i < pl->nargs && !c.bad; i++)
		pl->args[i] = (char *)get_str(&c);
	pl->nenv = get_count(&c, 5);
	pl->env = alloc(pl->nenv, sizeof *pl->env);
	for (uint32_t i = 0; i < pl->nenv && !c.bad; i++)
		pl->env[i] = (char *)get_str(&c);
	pl->path = get_str(&c);
	pl->notfound_text = get_str(&c);
	const unsigned char *e = get_bytes(&c, 4);
	if (c.bad || memcmp(e, plan_end, 4) != 0 || c.p != c.end)
		return -1;
	if (pl->rootfs[0] != '/' || pl->nargs == 0 || pl->cwd[0] != '/')
		return -1;
	return 0;
}

static void free_plan(struct plan *pl)
{
	free(pl->mounts);
	free(pl->devices);
	free(pl->sysctls);
	free(pl->masked);
	free(pl->readonly);
	free(pl->rlimits);
	free(pl->drop);
	free(pl->ambient);
	free(pl->groups);
	free(pl->args);
	free(pl->env);
}

// cove_cinit_check_plan parses a plan and throws it away: for the Go tests
// (initproc.CheckPlan) and the fuzzer.
int cove_cinit_check_plan(const unsigned char *buf, size_t len)
{
	struct plan pl;
	int r = parse_plan(buf, len, &pl);
	free_plan(&pl);
	return r;
}

// ---------------------------------------------------------------------
// Reporting.

// errno_text is Go's text of an errno: the C library's, first letter in
// lower case (Go's syscall tables are generated from it that way), so that
// messages read the same whichever init wrote them.
static const char *errno_text(int e)
{
	static char buf[8][128];
	static int next;
	char *b = buf[next++ % 8];
	snprintf(b, sizeof buf[0], "%s", strerror(e));
	b[0] = (char)tolower((unsigned char)b[0]);
	return b;
}

// The message being built, and its errno.
static char msg[16384];
static size_t msg_len;

static void msg_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg_add(const char *fmt, ...)
{
	if (msg_len >= sizeof msg - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg + msg_len, sizeof msg - msg_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		msg_len += (size_t)n;
	if (msg_len >= sizeof msg)
		msg_len = sizeof msg - 1;
}

// json_str appends s to out as a JSON string body.
static size_t json_str(char *out, size_t o, size_t cap, const char *s)
{
	for (; *s && o < cap - 8; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	return o;
}

static void send_packet(const char *p, size_t n)
{
	// MSG_NOSIGNAL: a parent that went away must not kill us by SIGPIPE
	// before we can say so on stderr.
	while (send(SYNC_FD, p, n, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "cove-init: %s\n", msg_len ? msg : p);
			return;
		}
	}
}

// fail sends the message built so far as proto.Message{Kind: "error"} and
// exits as the Go init does: with exit_code (126, 127) or 1.
static void fail(const char *stage, int err, int exit_code) __attribute__((noreturn));
static void fail(const char *stage, int err, int exit_code)
{
	static char packet[sizeof msg * 6 + 256];
	size_t o = (size_t)snprintf(packet, sizeof packet, "{\"kind\":\"error\",\"stage\":\"%s\"", stage);
	if (err)
		o += (size_t)snprintf(packet + o, sizeof packet - o, ",\"errno\":%d", err);
	o += (size_t)snprintf(packet + o, sizeof packet - o, ",\"text\":\"");
	o = json_str(packet, o, sizeof packet, msg);
	o += (size_t)snprintf(packet + o, sizeof packet - o, "\"");
	if (exit_code)
		o += (size_t)snprintf(packet + o, sizeof packet - o, ",\"exitCode\":%d", exit_code);
	o += (size_t)snprintf(packet + o, sizeof packet - o, "}");
	send_packet(packet, o);
	_exit(exit_code ? exit_code : 1);
}

// A failed step: the message so far, ": " and the errno's text.
static void fail_errno(const char *stage, int err) __attribute__((noreturn));
static void fail_errno(const char *stage, int err)
{
	msg_add(": %s", errno_text(err));
	fail(stage, err, 0);
}

static void msg_reset(void)
{
	msg_len = 0;
	msg[0] = 0;
}

// flag_names renders MS_* flags as package mount's flagNames does.
static void msg_flags(uint64_t f)
{
	static const struct {
		uint64_t f;
		const char *name;
	} names[] = {
	    {MS_REMOUNT, "remount"}, {MS_BIND, "bind"}, {MS_REC, "rec"}, {MS_RDONLY, "ro"}, {MS_NOSUID, "nosuid"}, {MS_NODEV, "nodev"}, {MS_NOEXEC, "noexec"}, {MS_SYNCHRONOUS, "sync"}, {MS_DIRSYNC, "dirsync"}, {MS_MANDLOCK, "mand"}, {MS_NOATIME, "noatime"}, {MS_NODIRATIME, "nodiratime"}, {MS_RELATIME, "relatime"}, {MS_STRICTATIME, "strictatime"}, {MS_PRIVATE, "private"}, {MS_SLAVE, "slave"}, {MS_SHARED, "shared"}, {MS_UNBINDABLE, "unbindable"},
	};
	const char *sep = "";
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (f & names[i].f) {
			msg_add("%s%s", sep, names[i].name);
			sep = ",";
			f &= ~names[i].f;
		}
	}
	if (f)
		msg_add("%s%#llx", sep, (unsigned long long)f);
}

// A mount.Error's text: "OP SOURCE on TARGET" for a bind, "OP FSTYPE at
// TARGET" for a new instance, "OP TARGET" otherwise; then the errno and
// the flags and data.
static void msg_mount_error(const char *op, const char *source, const char *fstype, const char *target,
			    int err, uint64_t flags, const char *data)
{
	if (source && strcmp(op, "bind mounting") == 0)
		msg_add("%s %s on %s", op, source, target);
	else if (fstype && *fstype)
		msg_add("%s %s at %s", op, fstype, target);
	else
		msg_add("%s %s", op, target);
	msg_add(": %s", errno_text(err));
	if (flags || (data && *data)) {
		msg_add(" (");
		if (flags) {
			msg_add("flags ");
			msg_flags(flags);
		}
		if (data && *data)
			msg_add("%sdata %s", flags ? "; " : "", data);
		msg_add(")");
	}
}

// ---------------------------------------------------------------------
// The rootfs, before pivot_root. Every target is resolved inside it with
// openat2(RESOLVE_IN_ROOT), as package mount does (see its comment): a
// symlink in the image is followed as if the rootfs were "/", and the
// resolved O_PATH descriptor, named as /proc/self/fd/N, is the mount
// target, so nothing can swap the path between the check and the mount.

static const char *rootfs;
static int rootfd = -1;

// A mount error is built in layers ("device X: bind mounting ...: ..."):
// each layer's text goes into msg, the errno is kept for the message.
static int last_errno;

static char *procfd(int fd)
{
	static char b[4][32];
	static int next;
	char *p = b[next++ % 4];
	snprintf(p, sizeof b[0], "/proc/self/fd/%d", fd);
	return p;
}

// resolve opens dest (a container path) inside the rootfs; -1 with errno.
static int resolve(const char *dest)
{
	struct cove_open_how how = {O_PATH | O_CLOEXEC, 0, COVE_RESOLVE_IN_ROOT | COVE_RESOLVE_NO_MAGICLINKS};
	for (int i = 0;; i++) {
		int fd = (int)syscall(SYS_openat2, rootfd, dest, &how, sizeof how);
		// EAGAIN: a concurrent rename or mount made the kernel give up
		// the lookup to stay safe; it asks for a retry.
		if (fd < 0 && (errno == EAGAIN || errno == EINTR) && i < 64)
			continue;
		return fd;
	}
}

// The text of a failed resolve, as package mount's open() words it.
static int resolve_error(const char *dest)
{
	int e = errno;
	if (e == ENOSYS)
		msg_add("resolving %s in the rootfs: openat2 is not available (cove needs Linux 5.6 or later)", dest);
	else
		msg_add("resolving %s: %s", dest, errno_text(e));
	return e;
}

// path_of returns the container path of a directory descriptor inside the
// rootfs (the kernel's name for it minus the rootfs prefix), in out.
static int path_of(int fd, char *out, size_t n)
{
	char p[4096];
	ssize_t l = readlink(procfd(fd), p, sizeof p - 1);
	if (l < 0)
		return -1;
	p[l] = 0;
	size_t rl = strlen(rootfs);
	while (rl > 1 && rootfs[rl - 1] == '/')
		rl--;
	if (strcmp(p, rootfs) == 0) {
		snprintf(out, n, "/");
		return 0;
	}
	if (strncmp(p, rootfs, rl) != 0 || p[rl] != '/') {
		errno = EXDEV;
		return -1;
	}
	snprintf(out, n, "%s", p + rl);
	return 0;
}

// clean_join writes the cleaned path a/b (b relative; or b alone when
// absolute) into out, as Go's path.Join and path.Clean: no "." or empty
// components, ".." removing the previous one but never going above "/".
static void clean_join(const char *a, const char *b, char *out, size_t n)
{
	char tmp[8192];
	if (b[0] == '/' || !a)
		snprintf(tmp, sizeof tmp, "%s", b);
	else
		snprintf(tmp, sizeof tmp, "%s/%s", a, b);
	size_t o = 0;
	out[o++] = '/';
	char *save = NULL;
	for (char *s = strtok_r(tmp, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (strcmp(s, ".") == 0)
			continue;
		if (strcmp(s, "..") == 0) {
			while (o > 1 && out[o - 1] != '/')
				o--;
			if (o > 1)
				o--;
			continue;
		}
		if (o > 1 && o < n - 1)
			out[o++] = '/';
		for (; *s && o < n - 1; s++)
			out[o++] = *s;
	}
	out[o] = 0;
}

// mkdir_step is one pass of mkdir_all: it resolves dest, creating missing
// directories (and the last component as an empty file when file is set)
// inside already-resolved parents, so that creation cannot escape the
// rootfs either. It returns the descriptor; or -1 with next set to the
// path to create instead when it met a dangling symlink (followed inside
// the rootfs, as Docker does for a volume whose path in the image is such
// a link); or -1 with the error's text in msg.
static int mkdir_step(const char *dest, int file, char *next, size_t nextlen)
{
	next[0] = 0;
	int fd = resolve(dest);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT) {
		last_errno = resolve_error(dest);
		return -1;
	}
	char clean[4096];
	clean_join(NULL, dest, clean, sizeof clean);
	int parent = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	if (parent < 0) {
		last_errno = errno;
		msg_add("%s", errno_text(errno));
		return -1;
	}
	char cur[4096] = "/";
	char *save = NULL;
	char *rest = clean + 1;
	char parts[4096];
	snprintf(parts, sizeof parts, "%s", rest);
	char *name = strtok_r(parts, "/", &save);
	while (name) {
		char *following = strtok_r(NULL, "/", &save);
		char here[4096];
		clean_join(cur, name, here, sizeof here);
		fd = resolve(here);
		if (fd < 0 && errno == ENOENT) {
			int cerr = 0;
			if (file && !following) {
				int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (f < 0)
					cerr = errno;
				else
					close(f);
			} else if (mkdirat(parent, name, 0755) < 0) {
				cerr = errno;
			}
			if (cerr == EEXIST) {
				// Something is there but does not resolve: a
				// dangling symlink (or a racing creator, which
				// the retry handles).
				char target[4096];
				ssize_t l = readlinkat(parent, name, target, sizeof target - 1);
				if (l >= 0) {
					target[l] = 0;
					char dir[4096] = "";
					if (target[0] != '/' && path_of(parent, dir, sizeof dir) < 0) {
						last_errno = errno;
						msg_add("%s", errno_text(errno));
						close(parent);
						return -1;
					}
					char t2[4096];
					clean_join(target[0] == '/' ? NULL : dir, target, t2, sizeof t2);
					// The rest of the path goes after the link's target.
					char restpath[4096] = "";
					size_t o = 0;
					for (char *r = following; r; r = strtok_r(NULL, "/", &save))
						o += (size_t)snprintf(restpath + o, sizeof restpath - (o < sizeof restpath ? o : sizeof restpath), "/%s", r);
					clean_join(t2, restpath[0] ? restpath + 1 : ".", next, nextlen);
					close(parent);
					return -1;
				}
			} else if (cerr) {
				last_errno = cerr;
				msg_add("creating %s: %s", here, errno_text(cerr));
				close(parent);
				return -1;
			}
			fd = resolve(here);
		}
		if (fd < 0) {
			last_errno = resolve_error(here);
			close(parent);
			return -1;
		}
		close(parent);
		parent = fd;
		snprintf(cur, sizeof cur, "%s", here);
		name = following;
	}
	return parent;
}

// mkdir_all resolves dest inside the rootfs, creating what is missing
// (see mkdir_step); -1 with the error's text in msg.
static int mkdir_all(const char *dest, int file)
{
	char path[4096], next[4096];
	snprintf(path, sizeof path, "%s", dest);
	for (int depth = 0;; depth++) {
		int fd = mkdir_step(path, file, next, sizeof next);
		if (fd >= 0 || !next[0])
			return fd;
		if (depth == 40) { // the kernel's own limit on nested links
			last_errno = ELOOP;
			msg_add("creating %s: %s", dest, errno_text(ELOOP));
			return -1;
		}
		snprintf(path, sizeof path, "%s", next);
	}
}

// The flags the kernel locks on mounts a user namespace inherited from a
// more privileged one.
#define LOCKABLE (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
#define ATIME_FLAGS (MS_NOATIME | MS_RELATIME | MS_STRICTATIME | MS_NODIRATIME)

// statfs_to_mount converts statfs(2) f_flags (ST_*) to MS_* flags.
static uint64_t statfs_to_mount(unsigned long st)
{
	uint64_t f = 0;
	if (st & ST_RDONLY)
		f |= MS_RDONLY;
	if (st & ST_NOSUID)
		f |= MS_NOSUID;
	if (st & ST_NODEV)
		f |= MS_NODEV;
	if (st & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (st & ST_SYNCHRONOUS)
		f |= MS_SYNCHRONOUS;
	if (st & ST_MANDLOCK)
		f |= MS_MANDLOCK;
	if (st & ST_NOATIME)
		f |= MS_NOATIME;
	if (st & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (st & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

// remount changes the flags of the bind mount at target (a path or a
// procfd; shown is the path for messages). MS_REMOUNT|MS_BIND replaces
// every per-mount flag at once, so flags neither set nor cleared keep
// their current value, read with statfs: that keeps a read-only source
// read-only and repeats the flags a user namespace locked (the kernel
// refuses to clear them: EPERM). Only if an explicit "rw", "suid", "dev"
// or "exec" is refused on a locked mount is it retried keeping every
// current restriction, the best the kernel allows. 0, or -1 with msg.
static int remount(const char *target, const char *shown, uint64_t set, uint64_t cleared)
{
	struct statfs st;
	if (statfs(target, &st) < 0) {
		last_errno = errno;
		msg_add("statfs %s: %s", shown, errno_text(errno));
		return -1;
	}
	uint64_t cur = statfs_to_mount((unsigned long)st.f_flags);
	uint64_t flags = set | (cur & LOCKABLE & ~cleared);
	if (((set | cleared) & ATIME_FLAGS) == 0) {
		// Keep the access-time policy: none of these flags would ask
		// for relatime, which a locked noatime mount refuses.
		flags |= cur & (MS_NOATIME | MS_RELATIME | MS_NODIRATIME);
		if (!(cur & (MS_NOATIME | MS_RELATIME)))
			flags |= MS_STRICTATIME;
	}
	int r = mount("", target, NULL, MS_REMOUNT | MS_BIND | flags, NULL);
	if (r < 0 && errno == EPERM && (cur & LOCKABLE & ~flags)) {
		flags |= cur & LOCKABLE;
		r = mount("", target, NULL, MS_REMOUNT | MS_BIND | flags, NULL);
	}
	if (r < 0) {
		last_errno = errno;
		msg_mount_error("remounting", NULL, NULL, shown, errno, MS_REMOUNT | MS_BIND | flags, NULL);
		return -1;
	}
	return 0;
}

// finish applies what the first mount(2) call cannot: a bind's per-mount
// flags (a bind ignores them; they need a remount), recursive attributes
// (mount_setattr, Linux 5.12), propagation.
static int finish(const char *dest, uint64_t flags, uint64_t cleared, uint64_t recursive, int best_effort,
		  uint32_t nprop, const unsigned char *prop, int bind)
{
	int do_remount = bind && (flags || cleared);
	if (!do_remount && !recursive && !nprop)
		return 0;
	// Look the target up again: the descriptor used for the mount names
	// the directory beneath the new mount, not the mount.
	int fd = resolve(dest);
	if (fd < 0) {
		last_errno = resolve_error(dest);
		return -1;
	}
	if (do_remount && remount(procfd(fd), dest, flags, cleared) < 0) {
		close(fd);
		return -1;
	}
	if (recursive) {
		struct cove_mount_attr attr = {recursive, 0, 0, 0};
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | COVE_AT_RECURSIVE, &attr, sizeof attr) < 0 &&
		    !(errno == ENOSYS && best_effort)) {
			last_errno = errno;
			msg_add("setting recursive attributes of %s: %s", dest, errno_text(errno));
			close(fd);
			return -1;
		}
	}
	for (uint32_t i = 0; i < nprop; i++) {
		uint64_t p;
		memcpy(&p, prop + 8 * i, 8);
		if (mount("", procfd(fd), NULL, p, NULL) < 0) {
			last_errno = errno;
			msg_mount_error("changing propagation of", NULL, NULL, dest, errno, p, NULL);
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

// bind binds the host path src on dest; 0, or -1 with msg.
static int bind_mount(const char *src, const char *dest, uint64_t flags, uint64_t cleared, int rec, uint64_t recursive,
		      int best_effort, uint32_t nprop, const unsigned char *prop)
{
	struct stat st;
	if (stat(src, &st) < 0) {
		last_errno = errno;
		msg_add("bind mounting %s on %s: source: %s", src, dest, errno_text(errno));
		return -1;
	}
	size_t mark = msg_len;
	msg_add("bind mounting %s on %s: ", src, dest);
	int fd = mkdir_all(dest, !S_ISDIR(st.st_mode));
	if (fd < 0)
		return -1;
	msg_len = mark;
	msg[mark] = 0;
	unsigned long mf = MS_BIND | (rec ? MS_REC : 0);
	if (mount(src, procfd(fd), NULL, mf, NULL) < 0) {
		last_errno = errno;
		close(fd);
		msg_mount_error("bind mounting", src, NULL, dest, errno, mf, NULL);
		return -1;
	}
	close(fd);
	return finish(dest, flags, cleared, recursive, best_effort, nprop, prop, 1);
}

// mount_fs mounts a new instance of fstype at dest; 0, or -1 with msg.
static int mount_fs(const struct plan_mount *m)
{
	size_t mark = msg_len;
	msg_add("mounting %s at %s: ", m->fstype, m->dest);
	int fd = mkdir_all(m->dest, 0);
	if (fd < 0)
		return -1;
	msg_len = mark;
	msg[mark] = 0;
	if (mount(m->source, procfd(fd), m->fstype, m->flags, m->data) < 0) {
		last_errno = errno;
		close(fd);
		msg_mount_error("mounting", NULL, m->fstype, m->dest, errno, m->flags, m->data);
		return -1;
	}
	close(fd);
	return finish(m->dest, m->flags, m->cleared, m->recursive, m->recursive_best_effort, m->nprop, m->prop, 0);
}

// do_mount performs one planned mount (package mount's Rootfs.Do).
static int do_mount(const struct plan_mount *m)
{
	if (m->bind)
		return bind_mount(m->source, m->dest, m->flags, m->cleared, m->rec, m->recursive, m->recursive_best_effort,
				  m->nprop, m->prop);
	size_t mark = msg_len;
	if (mount_fs(m) == 0) {
		// Which mounts decide the population of /dev is the parent's
		// finding too; here only whether they worked.
		return 0;
	}
	int err = last_errno;
	uint64_t fbflags = m->flags | m->fb_flags;
	uint64_t fbrec = m->recursive | m->fb_recursive;
	int best_effort = m->fb_recursive ? 1 : m->recursive_best_effort;
	if (m->fallback == 1 && err == EPERM) {
		// The bind's error alone, as the Go init reports it.
		msg_len = mark;
		msg[mark] = 0;
		return bind_mount(m->fb_source, m->dest, fbflags, m->cleared, 1, fbrec, best_effort, m->nprop, m->prop);
	}
	if (m->fallback == 2) {
		msg_add("; falling back to a bind of %s: ", m->fb_source);
		size_t mark2 = msg_len;
		if (bind_mount(m->fb_source, m->dest, fbflags, m->cleared, 1, fbrec, best_effort, m->nprop, m->prop) == 0) {
			msg_len = mark;
			msg[mark] = 0;
			return 0;
		}
		(void)mark2;
		// The first failure's errno is what the Go init reports.
		last_errno = err;
		return -1;
	}
	return -1;
}

// setup_dev populates a /dev tmpfs: the device binds, the /proc/self/fd
// links and /dev/ptmx. The nodes are binds of the host's, never mknod: a
// user namespace may not mknod, and its tmpfs is implicitly nodev anyway;
// a bound node keeps its host mount's dev permission.
static void setup_dev(const struct plan *pl)
{
	for (uint32_t i = 0; i < pl->ndevices; i++) {
		msg_reset();
		msg_add("device %s: ", pl->devices[i].b);
		if (bind_mount(pl->devices[i].a, pl->devices[i].b, 0, 0, 0, 0, 0, 0, NULL) < 0)
			fail("dev", last_errno, 0);
	}
	if (!(pl->flags & PLAN_DEV_LINKS))
		return;
	msg_reset();
	int dev = resolve("/dev");
	if (dev < 0) {
		int e = resolve_error("/dev");
		fail("dev", e, 0);
	}
	static const char *links[][2] = {
	    {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
	};
	int n = 4;
	if (pl->flags & PLAN_PTMX_LINK) {
		// With a private devpts instance, /dev/ptmx must lead to that
		// instance's ptmx; the host's would allocate terminals in the
		// host's instance, invisible in /dev/pts.
		if (unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT) {
			msg_add("removing /dev/ptmx");
			fail_errno("dev", errno);
		}
		n = 5;
	}
	for (int i = 0; i < n; i++) {
		if (symlinkat(links[i][1], dev, links[i][0]) < 0 && errno != EEXIST) {
			msg_add("creating symlink /dev/%s", links[i][0]);
			fail_errno("dev", errno);
		}
	}
	close(dev);
}

// pivot makes the rootfs the root of the mount namespace and detaches the
// old root. pivot_root(".", ".") stacks the old root on the new one at the
// same place, so no put_old directory is needed in the image; the old root
// is then the topmost mount at "." and an MNT_DETACH unmount of "." takes
// exactly it away. It is made a slave first so that the unmount cannot
// propagate to the caller's namespace, whatever propagation was asked.
static void pivot(const char *root)
{
	msg_reset();
	if (chdir(root) < 0) {
		msg_add("chdir %s", root);
		fail_errno("pivot_root", errno);
	}
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		msg_add("pivot_root %s", root);
		fail_errno("pivot_root", errno);
	}
	if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) {
		int e = errno;
		msg_mount_error("changing propagation of", NULL, NULL, "the old root", e, MS_SLAVE | MS_REC, NULL);
		fail("pivot_root", e, 0);
	}
	if (umount2(".", MNT_DETACH) < 0) {
		msg_add("unmounting the old root /");
		fail_errno("pivot_root", errno);
	}
	if (chdir("/") < 0) {
		msg_add("chdir /");
		fail_errno("pivot_root", errno);
	}
}

// write_file writes a whole value, as os.WriteFile: 0 or an errno.
static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	size_t n = strlen(value);
	ssize_t w = write(fd, value, n);
	int e = w < 0 ? errno : ((size_t)w < n ? EIO : 0);
	close(fd);
	return e;
}

// mkdir_p creates dir and its parents as os.MkdirAll: 0, or -1 with the
// failing path's text in msg.
static int mkdir_p(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		last_errno = ENOTDIR;
		msg_add("mkdir %s: %s", dir, errno_text(ENOTDIR));
		return -1;
	}
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", dir);
	size_t l = strlen(parent);
	while (l > 1 && parent[l - 1] == '/')
		parent[--l] = 0;
	while (l > 0 && parent[l - 1] != '/')
		parent[--l] = 0;
	while (l > 1 && parent[l - 1] == '/')
		parent[--l] = 0;
	if (l > 0 && strcmp(parent, dir) != 0 && mkdir_p(parent) < 0)
		return -1;
	if (mkdir(dir, 0755) < 0) {
		int e = errno;
		if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		last_errno = e;
		msg_add("mkdir %s: %s", dir, errno_text(e));
		return -1;
	}
	return 0;
}

// load_seccomp installs the compiled filter. Without no_new_privs the
// kernel accepts it only from a task with CAP_SYS_ADMIN in its user
// namespace (EACCES otherwise). TSYNC as the Go init asks, harmless in
// this single thread.
static void load_seccomp(const struct plan *pl, int no_new_privs)
{
	msg_reset();
	if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		msg_add("seccomp: prctl(PR_SET_NO_NEW_PRIVS)");
		fail_errno("seccomp", errno);
	}
	struct sock_fprog prog = {(unsigned short)(pl->seccomp_len / 8), (struct sock_filter *)pl->seccomp};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | pl->seccomp_flags, &prog);
	if (r < 0) {
		int e = errno;
		if (e == EACCES)
			msg_add("seccomp: installing the filter needs no_new_privs or CAP_SYS_ADMIN in the current user namespace (EACCES)");
		else if (e == EINVAL && pl->seccomp_flags)
			msg_add("seccomp: the kernel refused the filter or its flags %#x (EINVAL); SECCOMP_FILTER_FLAG_LOG needs Linux 4.14, SPEC_ALLOW 4.17", pl->seccomp_flags);
		else
			msg_add("seccomp(SECCOMP_SET_MODE_FILTER): %s", errno_text(e));
		// The Go init's messages carry no errno for the first two.
		fail("seccomp", (e == EACCES || (e == EINVAL && pl->seccomp_flags)) ? 0 : e, 0);
	}
	if (r > 0) {
		msg_add("seccomp: thread %ld could not be synchronized (TSYNC)", r);
		fail("seccomp", 0, 0);
	}
}

static const char *unmapped_hint(int e)
{
	return e == EINVAL ? " (the ID is not mapped in the user namespace; with a single-ID mapping only root exists)" : "";
}

// recv_go waits for the parent's go-ahead (proto.KindGo); any descriptor
// passed along is closed. 1 for "go", 0 for anything else or EOF.
static int recv_go(void)
{
	char buf[4096];
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = {buf, sizeof buf - 1};
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	ssize_t n;
	do
		n = recvmsg(SYNC_FD, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n >= 0 && c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int *fds = (int *)CMSG_DATA(c);
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(fds[i]);
		}
	}
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strstr(buf, "\"kind\":\"go\"") != NULL;
}

// look_path finds the command as Docker does (Go's exec.LookPath in runc):
// a name with a slash as is, else the first regular file in PATH that the
// container user may execute. After pivot_root and the user switch, so the
// search is in the container and "executable" is the user's.
static const char *look_path(const struct plan *pl)
{
	const char *file = pl->args[0];
	if (!(pl->flags & PLAN_PATH_SEARCH))
		return file;
	static char found[8192];
	const char *p = pl->path;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t dl = colon ? (size_t)(colon - p) : strlen(p);
		if (dl == 0)
			snprintf(found, sizeof found, "./%s", file);
		else
			snprintf(found, sizeof found, "%.*s/%s", (int)dl, p, file);
		struct stat st;
		if (stat(found, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) &&
		    faccessat(AT_FDCWD, found, X_OK, AT_EACCESS) == 0)
			return found;
		if (!colon)
			break;
		p = colon + 1;
	}
	msg_reset();
	msg_add("%s", pl->notfound_text);
	fail("exec", 0, 127);
}

// close_extra_fds marks every descriptor above stderr close-on-exec, so
// that nothing of ours reaches the container; the sync socket among them,
// as it must be: its EOF tells the parent the command runs.
static void close_extra_fds(void)
{
	if (syscall(SYS_close_range, 3, ~0U, COVE_CLOSE_RANGE_CLOEXEC) == 0)
		return;
	// Before Linux 5.11: walk /proc/self/fd (the container's procfs now,
	// in which our PID is visible).
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		msg_reset();
		msg_add("listing open files");
		fail_errno("exec", errno);
	}
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end == 0 && e->d_name[0] && fd > 2 && fd != self)
			fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

// The kernel's struct sigaction on x86-64 and arm64: handler, flags,
// restorer, an 8-byte mask.
struct kernel_sigaction {
	unsigned long handler, flags, restorer, mask;
};

// reset_ignored_signals gives the command default dispositions: execve
// keeps ignored signals ignored, so a cove started with SIGINT ignored
// would pass that on; Docker's containers start with every signal at its
// default. Raw rt_sigaction, which also reaches the signals glibc keeps
// for itself (32, 33).
static void reset_ignored_signals(void)
{
	for (int sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		struct kernel_sigaction old, dfl = {0};
		if (syscall(SYS_rt_sigaction, sig, NULL, &old, 8) != 0 || old.handler != (unsigned long)SIG_IGN)
			continue;
		syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
	}
}

// read_all reads the plan from the pipe until EOF.
static unsigned char *read_all(int fd, size_t *len)
{
	size_t cap = 64 << 10, n = 0;
	unsigned char *b = malloc(cap);
	for (;;) {
		if (!b)
			return NULL;
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			cap *= 2;
			unsigned char *nb = realloc(b, cap);
			if (!nb)
				free(b);
			b = nb;
		}
	}
	*len = n;
	return b;
}

// cinit_main is the init; it never returns.
static void cinit_main(void)
{
	// The sync socket must close at execve, so that the parent sees EOF
	// exactly when the command has replaced us; Go passed it without
	// close-on-exec. The read-only view of the cove binary only served to
	// start us: kept, it would hand the container a descriptor to it.
	fcntl(SYNC_FD, F_SETFD, FD_CLOEXEC);
	close(EXE_FD);
	// Executed as /proc/self/fd/N, ps would call us "N".
	prctl(PR_SET_NAME, "cove-init", 0, 0, 0);

	size_t len = 0;
	unsigned char *buf = read_all(CONFIG_FD, &len);
	close(CONFIG_FD);
	static struct plan plan;
	struct plan *pl = &plan;
	if (!buf || parse_plan(buf, len, pl) < 0) {
		msg_add("reading the container plan: %s", buf ? "malformed plan" : errno_text(errno));
		fail("config", 0, 0);
	}
	rootfs = pl->rootfs;

	// Files and directories we create get the usual modes whatever the
	// caller's umask; the container's processes inherit 022, as in Docker.
	umask(022);

	// 1. Propagation first, before anything is mounted: the new mount
	// namespace starts with the caller's peer groups, so our mounts would
	// propagate back, and the unmount of the old root would unmount the
	// caller's tree.
	if (mount("", "/", NULL, pl->propagation, NULL) < 0) {
		int e = errno;
		msg_mount_error("changing propagation of", NULL, NULL, "/", e, pl->propagation, NULL);
		fail("rootfs", e, 0);
	}
	// 2. pivot_root needs the new root to be a mount point: bind it onto
	// itself (recursively, for an overlay's submounts), then open the new
	// mount, beneath which every target is resolved.
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) {
		int e = errno;
		msg_mount_error("bind mounting", rootfs, NULL, rootfs, e, MS_BIND | MS_REC, NULL);
		fail("rootfs", e, 0);
	}
	rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		msg_add("opening rootfs %s", rootfs);
		fail_errno("rootfs", errno);
	}
	// 3. The spec's mounts, in order, while host paths (bind sources,
	// device nodes) are still reachable; proc here, inside the new pid
	// namespace, so that it shows the container's processes.
	for (uint32_t i = 0; i < pl->nmounts; i++) {
		msg_reset();
		last_errno = 0;
		if (do_mount(&pl->mounts[i]) < 0)
			fail("mount", last_errno, 0);
	}
	// 4. /dev contents, after /dev and /dev/pts are mounted.
	setup_dev(pl);
	close(rootfd);
	// 5. Switch root: from here on, paths are container paths.
	pivot(rootfs);
	// 7. Sysctls through /proc/sys, before it becomes read-only.
	for (uint32_t i = 0; i < pl->nsysctls; i++) {
		int e = write_file(pl->sysctls[i].c, pl->sysctls[i].b);
		if (e) {
			msg_reset();
			msg_add("setting sysctl %s=%s", pl->sysctls[i].a, pl->sysctls[i].b);
			fail_errno("sysctl", e);
		}
	}
	// 8. Masked paths (a file gets /dev/null bound over it, a directory an
	// empty read-only tmpfs; missing ones are skipped) and read-only paths
	// (a read-only bind of themselves), after every mount that could
	// cover them.
	for (uint32_t i = 0; i < pl->nmasked; i++) {
		const char *p = pl->masked[i];
		struct stat st;
		msg_reset();
		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			msg_add("masking %s", p);
			fail_errno("masked paths", errno);
		}
		if (S_ISDIR(st.st_mode)) {
			if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) < 0) {
				int e = errno;
				msg_mount_error("masking", NULL, "tmpfs", p, e, MS_RDONLY, NULL);
				fail("masked paths", e, 0);
			}
			continue;
		}
		if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) {
			int e = errno;
			msg_mount_error("masking", "/dev/null", NULL, p, e, MS_BIND, NULL);
			fail("masked paths", e, 0);
		}
	}
	for (uint32_t i = 0; i < pl->nreadonly; i++) {
		const char *p = pl->readonly[i];
		msg_reset();
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			int e = errno;
			msg_mount_error("bind mounting", p, NULL, p, e, MS_BIND | MS_REC, NULL);
			fail("read-only paths", e, 0);
		}
		if (remount(p, p, MS_RDONLY, 0) < 0)
			fail("read-only paths", last_errno, 0);
	}
	// 9. Names of the UTS namespace.
	if (pl->hostname[0] && sethostname(pl->hostname, strlen(pl->hostname)) < 0) {
		msg_reset();
		msg_add("%s", pl->hostname_text);
		fail_errno("hostname", errno);
	}
	if (pl->domainname[0] && setdomainname(pl->domainname, strlen(pl->domainname)) < 0) {
		msg_reset();
		msg_add("%s", pl->domainname_text);
		fail_errno("hostname", errno);
	}
	// 10. Resource limits while root: raising a hard limit needs
	// CAP_SYS_RESOURCE.
	for (uint32_t i = 0; i < pl->nrlimits; i++) {
		struct rlimit rl = {pl->rlimits[i].soft, pl->rlimits[i].hard};
		if (setrlimit((int)pl->rlimits[i].resource, &rl) < 0) {
			msg_reset();
			msg_add("setting %s to %llu/%llu", pl->rlimits[i].name, (unsigned long long)rl.rlim_cur,
				(unsigned long long)rl.rlim_max);
			fail_errno("rlimits", errno);
		}
	}
	// 11. The working directory, created as root (Docker creates a
	// missing one whoever the user is) and before a read-only root.
	msg_reset();
	msg_add("creating working directory: ");
	if (mkdir_p(pl->cwd) < 0)
		fail("cwd", last_errno, 0);
	msg_reset();
	if ((pl->flags & PLAN_ROOT_READONLY) && remount("/", "/", MS_RDONLY, 0) < 0)
		fail("rootfs", last_errno, 0);

	// 12. Privileges, from most to least privileged step. The bounding
	// set first: dropping from it needs CAP_SETPCAP in the effective set,
	// which the user switch may clear.
	for (uint32_t i = 0; (pl->flags & PLAN_CAPS) && i < pl->ndrop; i++) {
		// EINVAL: the kernel does not know the capability; nothing to drop.
		if (prctl(PR_CAPBSET_DROP, pl->drop[i].cap, 0, 0, 0) < 0 && errno != EINVAL) {
			msg_reset();
			msg_add("dropping %s from the bounding set", pl->drop[i].name);
			fail_errno("capabilities", errno);
		}
	}
	// The parent-death signal the clone gave us (0 when detached), read
	// now: the user switch clears it, and a seccomp filter might deny the
	// read. The kernel writes it through the pointer.
	int pdeath = 0;
	if (prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0) < 0) {
		msg_reset();
		msg_add("prctl(PR_GET_PDEATHSIG)");
		fail_errno("user", errno);
	}
	// Without no_new_privs the kernel takes a filter only from a task with
	// CAP_SYS_ADMIN, which a non-root user loses at the switch: load it
	// now, as root; the profile must allow what remains (setgroups,
	// setres[ug]id, capset, prctl, chdir, execve), as Docker's does.
	int nnp = (pl->flags & PLAN_NO_NEW_PRIVS) != 0;
	if (!nnp && pl->seccomp_len)
		load_seccomp(pl, 0);
	// The user: supplementary groups, group, then user, each while the
	// previous step's privilege is still there (setgroups needs
	// CAP_SETGID, which leaving uid 0 takes away). Raw system calls: this
	// is the only thread, and glibc's wrappers would broadcast to others.
	msg_reset();
	if ((pl->flags & PLAN_SETGROUPS) && syscall(SYS_setgroups, pl->ngroups, pl->groups) < 0) {
		int e = errno;
		msg_add("setting supplementary groups %s: %s%s", pl->groups_text, errno_text(e), unmapped_hint(e));
		fail("user", e, 0);
	}
	// PR_SET_KEEPCAPS: leaving uid 0 would empty the permitted set, and
	// the spec's capabilities could no longer be applied.
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
		msg_add("prctl(PR_SET_KEEPCAPS)");
		fail_errno("user", errno);
	}
	if (syscall(SYS_setresgid, pl->gid, pl->gid, pl->gid) < 0) {
		int e = errno;
		msg_add("switching to group %u: %s%s", pl->gid, errno_text(e), unmapped_hint(e));
		fail("user", e, 0);
	}
	if (syscall(SYS_setresuid, pl->uid, pl->uid, pl->uid) < 0) {
		int e = errno;
		msg_add("switching to user %u: %s%s", pl->uid, errno_text(e), unmapped_hint(e));
		fail("user", e, 0);
	}
	// As the container user and before capset, while a non-root user's
	// effective set is still empty: a directory the user may not enter is
	// an error, as in Docker.
	if (chdir(pl->cwd) < 0) {
		msg_add("chdir to working directory %s", pl->cwd);
		fail_errno("cwd", errno);
	}
	if (pl->flags & PLAN_CAPS) {
		// On the final uid: KEEPCAPS kept the permitted set through the
		// switch, and capset trims it to the spec's sets (the kernel only
		// lets it shrink). Version 3: two 32-bit words per set.
		struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct data[2];
		for (int i = 0; i < 2; i++) {
			data[i].effective = (uint32_t)(pl->effective >> (32 * i));
			data[i].permitted = (uint32_t)(pl->permitted >> (32 * i));
			data[i].inheritable = (uint32_t)(pl->inheritable >> (32 * i));
		}
		if (syscall(SYS_capset, &hdr, data) < 0) {
			msg_add("%s: capset", pl->capset_text);
			fail_errno("capabilities", errno);
		}
		// Ambient capabilities survive the execve of a program without
		// file capabilities, even for a non-root user; each must be
		// permitted and inheritable, hence after capset. Clearing fails
		// before Linux 4.3, which has no ambient set: fine if none is
		// asked.
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
			if (pl->nambient) {
				msg_add("clearing the ambient capability set");
				fail_errno("capabilities", errno);
			}
		} else {
			for (uint32_t i = 0; i < pl->nambient; i++) {
				if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, pl->ambient[i].cap, 0, 0) < 0) {
					msg_add("raising ambient %s", pl->ambient[i].name);
					fail_errno("capabilities", errno);
				}
			}
		}
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	// 12b. The parent-death signal back, after the last credential
	// change: the kernel (commit_creds) cleared it when the euid, egid,
	// fsuid or fsgid changed. A parent that died while it was cleared
	// never sends it: give up rather than run a container nobody owns. In
	// our own pid namespace getppid() is 0, so the sync socket's hang-up
	// is the cheap way to see the parent.
	if (pdeath) {
		if (prctl(PR_SET_PDEATHSIG, pdeath, 0, 0, 0) < 0) {
			msg_add("restoring the parent-death signal");
			fail_errno("user", errno);
		}
		struct pollfd pfd = {SYNC_FD, POLLRDHUP, 0};
		if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLRDHUP))) {
			msg_add("the parent exited during setup");
			fail("user", 0, 0);
		}
	}
	// The parent may still be connecting the network (pasta), which
	// overlapped with the setup above: the command must not run first.
	if ((pl->flags & PLAN_WAIT_GO) && !recv_go()) {
		msg_add("the parent did not connect the network");
		fail("network", 0, 0);
	}
	// 13. The command, found inside the container as the container user.
	const char *path = look_path(pl);
	close_extra_fds();
	// 14. Last, as close to execve as possible so that the profile
	// constrains the container and not our setup: no_new_privs and the
	// filter.
	if (nnp) {
		if (pl->seccomp_len) {
			load_seccomp(pl, 1);
		} else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
			msg_reset();
			msg_add("prctl(PR_SET_NO_NEW_PRIVS)");
			fail_errno("no_new_privs", errno);
		}
	}
	// proto.KindExec, saying which init this was; a profile that denies
	// sendmsg makes this fail, which the parent copes with.
	static const char exec_msg[] = "{\"kind\":\"exec\",\"init\":\"c\"}";
	send(SYNC_FD, exec_msg, sizeof exec_msg - 1, MSG_NOSIGNAL);
	reset_ignored_signals();
	execve(path, pl->args, pl->env);
	// The failure, classified as Docker does: 127 when the command (or its
	// interpreter) does not exist, 126 when it cannot be run; execve says
	// EACCES for a directory, which is said as what it is.
	int e = errno;
	int code = (e == ENOENT || e == ENOTDIR || e == ELOOP || e == ENAMETOOLONG) ? 127 : 126;
	struct stat st;
	if (e == EACCES && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		e = EISDIR;
	msg_reset();
	msg_add("exec %s: %s", pl->args[0], errno_text(e));
	fail("exec", e, code);
}

// join_init_netns joins a network namespace made ahead of the init
// (runtime.Options.NetNS, passed as the descriptor named by
// _COVE_INIT_NETNS_FD), before anything else: for the Go init, before the
// Go runtime starts threads, since setns(CLONE_NEWNET) moves only the
// calling thread and every thread must be in the container's namespace.
static void join_init_netns(const char *fdstr)
{
	char *end;
	long fd = strtol(fdstr, &end, 10);
	if (*end || fd < 3 || setns((int)fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "cove-init: joining the container's network namespace (fd %s): %s\n", fdstr, strerror(errno));
		_exit(125);
	}
	close((int)fd);
	unsetenv("_COVE_INIT_NETNS_FD");
}

// The role's entry: argv[0] is proto.Role. With _COVE_INIT_PLAN the parent
// sent a plan for this C init; without, it sent the JSON configuration
// for the Go init (initproc.Main), which the constructor leaves to the Go
// runtime.
__attribute__((constructor)) static void cove_cinit_entry(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc < 1 || strcmp(argv[0], "cove-init") != 0)
		return;
	const char *netns = getenv("_COVE_INIT_NETNS_FD");
	if (netns)
		join_init_netns(netns);
	if (getenv("_COVE_INIT_PLAN"))
		cinit_main();
}
