// Joining a running container's namespaces for `cove exec`, done before the
// Go runtime starts.
//
// Why C: setns(2) into a user namespace is refused to a multithreaded
// process (EINVAL), and so is setns into a mount namespace for a process
// that shares its filesystem information (CLONE_FS) with another thread.
// The Go runtime starts several threads before main, so neither can be done
// from Go. A constructor runs in the freshly executed, single-threaded
// process, before the runtime exists; only after every setns does the
// process (or rather its child, see "fork" below) go on into Go.
//
// The constructor acts only when argv[0] is "cove-exec" and _COVE_EXEC_PID
// names the container's first process; package execproc (the CLI side)
// starts the binary that way and talks to the Go side of the child over the
// descriptors below. Every other invocation of the binary returns at once.
//
// The process tree, from the CLI on the host (uid U) down:
//
//	cove exec (CLI, Go, on the host, outside any user namespace)
//	└─ cove-exec  stage A: open every namespace of the container, then join
//	   |          its user namespace; unless our own executable is already
//	   |          a read-only view, make one and re-execute through it
//	   |          (stage B), keeping the namespace descriptors open
//	   |          stage B: join the other namespaces, fork; this process
//	   |          stays on the host's pid namespace as the waiter: relays
//	   |          signals, exits with the child's status
//	   └─ cove-exec  (the child: in every namespace of the container, pid
//	                 namespace included) returns from the constructor into
//	                 the Go runtime; execproc.Main sets up the user,
//	                 capabilities, seccomp, and execve's the command
//
// Descriptors from the CLI (numbers fixed by execproc, see nsenter.go):
//
//	3  config pipe, read by the Go child (we only close it in the waiter)
//	4  sync socket (SOCK_SEQPACKET): our errors go there as one JSON packet
//	   each, in the format of internal/runtime/proto's Message
//	5  pidfd of the container's first process, to detect PID reuse
//	6  optional (_COVE_EXEC_EXEFD): the read-only view of the cove binary the
//	   CLI executed us from; we close it at once, it must not reach the
//	   container
//
// Errors are reported on the sync socket and end the process with 125.
//
// Why re-execute (stage A to stage B): the child runs the cove binary
// inside the container until it execve's the command, and a process of the
// container that gets hold of its /proc/PID/exe (or makes the kernel run
// "#!/proc/self/exe" through it) could open the host's cove binary for
// writing once cove has exited (CVE-2019-5736); rootless, the binary
// usually belongs to the very user the container's root is mapped to, so
// file permissions do not stop it. So the child must run from a view of
// the binary that refuses writes. When cove runs as real root the CLI makes
// that view itself (internal/runtime's read-only bind mount) and stage B
// follows stage A in the same process. A rootless CLI cannot: making a
// mount needs privilege over a mount namespace, and the host user has none.
// Once in the container's user namespace we are its root, so stage A makes
// the view there, in a private mount namespace, and re-executes through it.
//
// Descriptor hygiene: every descriptor we open is close-on-exec; the
// namespace descriptors lose the flag only for the one execve into stage B
// and each is closed right after its setns. The CLI's read-only view of the
// binary is closed at once (the kernel maps what it needs). The child keeps
// only stdio, the config pipe and the sync socket, and the Go side marks
// everything above stderr close-on-exec before the command's execve. The
// waiter closes the config pipe, the sync socket and the pidfd right after
// the fork, so that the CLI sees EOF on the socket exactly when the
// command has replaced the child.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// Newer system calls, by number: the C library may predate them. These
// numbers are the same on every architecture Linux added them to at once.
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

// struct mount_attr of <linux/mount.h>, which cannot be included together
// with glibc's <sys/mount.h> on every version.
struct cove_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#define COVE_MOUNT_ATTR_RDONLY 0x1
#define COVE_MOUNT_ATTR_NOSUID 0x2
#define COVE_MOUNT_ATTR_NODEV 0x4

#define ROLE "cove-exec"
#define ENV_PID "_COVE_EXEC_PID"
#define ENV_EXEFD "_COVE_EXEC_EXEFD"
#define ENV_DETACH "_COVE_EXEC_DETACH"
// Set for stage B: the namespace descriptors still to join, one number per
// entry of namespaces[] below, -1 for "nothing to join".
#define ENV_NSFDS "_COVE_EXEC_NSFDS"

#define CONFIG_FD 3
#define SYNC_FD 4
#define PID_FD 5

// The namespaces to join, in the order they are joined. The user namespace
// comes first: the container's other namespaces are owned by it, and
// setns(2) wants CAP_SYS_ADMIN over a namespace's owner, which we only get
// by becoming a member (uid 0 there, with a full capability set). From the
// host, as the owner of that user namespace, we would already be "capable"
// in it for some checks, but joining a mount or pid namespace also wants
// CAP_SYS_ADMIN (and CAP_SYS_CHROOT) in the caller's own user namespace,
// which an unprivileged host user never has. The mount namespace comes
// last: it moves our root and working directory into the container, and
// nothing after it should resolve a host path. (Every descriptor is opened
// before the first setns anyway; see open_namespaces.)
static const struct {
	const char *name;
	int type;
} namespaces[] = {
	{"user", CLONE_NEWUSER},
	{"cgroup", CLONE_NEWCGROUP},
	{"ipc", CLONE_NEWIPC},
	{"uts", CLONE_NEWUTS},
	{"net", CLONE_NEWNET},
	{"pid", CLONE_NEWPID},
	{"mnt", CLONE_NEWNS},
};
#define NNS ((int)(sizeof namespaces / sizeof namespaces[0]))

static pid_t child_pid;

// Set in the child that returns into Go, for nsenter.Joined.
int cove_nsenter_joined;

// fail sends one error message to the CLI and exits with 125, cove's own
// failure. The text is JSON-escaped by hand; it is ours (format strings and
// strerror), bounded, and never contains anything from the container.
__attribute__((noreturn, format(printf, 2, 3))) static void fail(int err, const char *fmt, ...)
{
	char text[1024], packet[2600];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n < 0)
		text[0] = 0;
	if (err) {
		size_t l = strlen(text);
		snprintf(text + l, sizeof text - l, ": %s", strerror(err));
	}
	size_t o = (size_t)snprintf(packet, sizeof packet, "{\"kind\":\"error\",\"stage\":\"join\",\"errno\":%d,\"text\":\"", err);
	for (const char *p = text; *p && o < sizeof packet - 8; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			packet[o++] = '\\';
			packet[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(packet + o, sizeof packet - o, "\\u%04x", c);
		} else {
			packet[o++] = (char)c;
		}
	}
	memcpy(packet + o, "\"}", 3);
	o += 2;
	// MSG_NOSIGNAL: a CLI that went away must not kill us with SIGPIPE
	// before we exit anyway. Without a socket (someone ran us by hand),
	// stderr is all there is.
	if (send(SYNC_FD, packet, o, MSG_NOSIGNAL) < 0)
		fprintf(stderr, "cove-exec: %s\n", text);
	_exit(125);
}

// same_ns reports whether two namespace files are the same namespace: nsfs
// gives every namespace one inode number on one device.
static int same_ns(int a, int b)
{
	struct stat sa, sb;
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// open_namespaces opens every namespace of the target, before we join any
// of them. The order matters:
//   - /proc/PID means the host's process PID only while our /proc is the
//     host's, that is before setns into the container's mount namespace
//     (there, PID would name some other process, or none);
//   - opening a namespace file is checked against our credentials
//     (ptrace access mode); they change with the user namespace;
//   - the pidfd check below then covers all of them at once.
// A namespace we already share (the user namespace when cove runs as real
// root, the network namespace of a --network host container) gets -1:
// setns into it would at best do nothing and at worst fail with EPERM (a
// rootless process has no privilege over the host's namespaces).
static void open_namespaces(pid_t pid, int fds[NNS])
{
	for (int i = 0; i < NNS; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, namespaces[i].name);
		// O_CLOEXEC: nothing of ours may leak into the command; the
		// descriptors that must survive the re-exec of stage A are made
		// inheritable explicitly, right before it.
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		int own = -1;
		if (fds[i] >= 0) {
			snprintf(path, sizeof path, "/proc/self/ns/%s", namespaces[i].name);
			own = open(path, O_RDONLY | O_CLOEXEC);
		}
		if (fds[i] < 0) {
			int e = errno;
			// A kernel without this namespace type (no cgroup
			// namespaces before 4.6): nothing to join.
			if (e == ENOENT && access("/proc/self/ns", F_OK) == 0) {
				snprintf(path, sizeof path, "/proc/self/ns/%s", namespaces[i].name);
				if (access(path, F_OK) < 0)
					continue;
			}
			if (e == ENOENT || e == ESRCH)
				fail(0, "container process %d exited", (int)pid);
			fail(e, "opening the %s namespace of container process %d", namespaces[i].name, (int)pid);
		}
		if (own >= 0 && same_ns(fds[i], own)) {
			close(fds[i]);
			fds[i] = -1;
		}
		if (own >= 0)
			close(own);
	}
	// The CLI opened a pidfd of the container's process after checking it
	// was the one it recorded (start time). If that process is still
	// alive now, its PID was never free to be reused, so every file we
	// just opened under /proc/PID belongs to it.
	if (syscall(SYS_pidfd_send_signal, PID_FD, 0, NULL, 0) < 0) {
		if (errno == ESRCH)
			fail(0, "container process %d exited", (int)pid);
		// EBADF/ENOSYS: no pidfd (kernel < 5.3); the start-time check
		// of the CLI is all we have.
	}
}

// exe_is_protected reports whether the binary we run from is read-only to
// everyone: on a read-only mount (the CLI's open_tree view when cove runs
// as root, or a read-only /usr), or a memfd sealed against writes. A
// container process that gets hold of our /proc/PID/exe can then not
// modify the cove binary (CVE-2019-5736).
static int exe_is_protected(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct statvfs sv;
	int ok = fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
	if (!ok) {
		int seals = fcntl(fd, F_GET_SEALS);
		ok = seals >= 0 && (seals & F_SEAL_WRITE);
	}
	close(fd);
	return ok;
}

// readonly_view returns a descriptor of our own binary through which the
// kernel refuses writes, or -1 with errno set.
//
// It runs after we joined the container's user namespace, as its root:
// unshare(CLONE_NEWNS) gives us a mount namespace of our own, owned by that
// user namespace, and so CAP_SYS_ADMIN over its mounts, which open_tree and
// mount_setattr need (a host user has no privilege over the host's mounts,
// which is why the CLI cannot do this itself when rootless). The view is a
// detached clone of the mount the binary is on (OPEN_TREE_CLONE: attached to
// no namespace, gone with its last user), made read-only; see
// internal/runtime's "Protecting the cove binary". The private mount
// namespace costs nothing and dies when stage B joins the container's.
static int readonly_view(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n <= 0)
		return -1;
	path[n] = 0;
	if (unshare(CLONE_NEWNS) < 0)
		return -1;
	// By path, not through /proc/self/exe: that magic link leads to the
	// mount in the host's namespace, which open_tree refuses to clone
	// from another mount namespace.
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | O_CLOEXEC);
	if (fd < 0)
		return -1;
	// The path must still be the binary we run (an upgrade may have
	// replaced it since the CLI started).
	struct stat a, b;
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int same = self >= 0 && fstat(self, &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	if (self >= 0)
		close(self);
	if (!same) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	struct cove_mount_attr attr = {.attr_set = COVE_MOUNT_ATTR_RDONLY | COVE_MOUNT_ATTR_NOSUID | COVE_MOUNT_ATTR_NODEV};
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

// sealed_copy copies our binary into a memfd sealed against any change: the
// fallback before Linux 5.12 (no mount_setattr), slower (a copy of the
// whole binary per exec) but as safe.
static int sealed_copy(void)
{
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return -1;
	struct stat st;
	int fd = (int)syscall(SYS_memfd_create, "cove-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || fstat(src, &st) < 0)
		goto bad;
	for (off_t off = 0; off < st.st_size;) {
		ssize_t w = sendfile(fd, src, &off, (size_t)(st.st_size - off));
		if (w <= 0)
			goto bad;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		goto bad;
	close(src);
	return fd;
bad:;
	int e = errno;
	close(src);
	if (fd >= 0)
		close(fd);
	errno = e;
	return -1;
}

// reexec_protected executes our own binary again through a read-only view
// (stage B), carrying the namespace descriptors across the execve. It
// returns only on failure.
static void reexec_protected(char **argv, int fds[NNS])
{
	int view = readonly_view();
	if (view < 0) {
		int e = errno;
		view = sealed_copy();
		if (view < 0)
			fail(errno, "protecting the cove binary from the container (read-only view: %s; sealed copy)", strerror(e));
	}
	char list[NNS * 12 + 1] = "";
	for (int i = 1; i < NNS; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof list - l, "%s%d", i > 1 ? "," : "", fds[i]);
		// These must survive the execve; every other descriptor of ours
		// is close-on-exec.
		if (fds[i] >= 0 && fcntl(fds[i], F_SETFD, 0) < 0)
			fail(errno, "preparing the namespace descriptors");
	}
	if (setenv(ENV_NSFDS, list, 1) < 0)
		fail(errno, "setting %s", ENV_NSFDS);
	extern char **environ;
	syscall(SYS_execveat, view, "", argv, environ, AT_EMPTY_PATH);
	fail(errno, "re-executing the cove binary through its read-only view");
}

static void relay_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

// wait_child is the waiter's life: relay signals to the child until it
// exits, then exit as it did (128+N when a signal killed it, as a shell and
// Docker report it).
__attribute__((noreturn)) static void wait_child(const sigset_t *mask)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = relay_signal;
	sa.sa_flags = SA_RESTART;
	// The CLI forwards what it receives to us (we have our own process
	// group, so the terminal's keystroke signals reach only the CLI). Not
	// the synchronous faults, SIGCHLD, or the unblockable ones.
	static const int relayed[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH,
				      SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPWR, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, 0};
	for (int i = 0; relayed[i]; i++)
		sigaction(relayed[i], &sa, NULL);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaction(s, &sa, NULL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	int st;
	while (waitpid(child_pid, &st, 0) < 0) {
		if (errno != EINTR)
			_exit(125);
	}
	if (WIFSIGNALED(st))
		_exit(128 + WTERMSIG(st));
	_exit(WEXITSTATUS(st));
}

__attribute__((constructor)) static void cove_nsenter(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc < 1 || strcmp(argv[0], ROLE) != 0)
		return;
	const char *pidstr = getenv(ENV_PID);
	if (!pidstr)
		return; // not started by execproc; the Go side says so
	char *end;
	long pid = strtol(pidstr, &end, 10);
	if (*end || pid <= 0 || pid > INT_MAX)
		fail(0, "bad %s %s", ENV_PID, pidstr);

	// Not dumpable: a process of the container with our uid could
	// otherwise ptrace the child between the fork and its execve and act
	// with the privileges it still holds, or read its memory and
	// descriptors; the kernel now wants CAP_SYS_PTRACE over our user
	// namespace for that, and for /proc/PID/exe. The execve of the
	// command resets it.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	int fds[NNS];
	const char *list = getenv(ENV_NSFDS);
	if (!list) {
		// Stage A.
		const char *exefd = getenv(ENV_EXEFD);
		if (exefd && atoi(exefd) > PID_FD)
			close(atoi(exefd)); // mapped by the kernel; the descriptor would only leak
		open_namespaces((pid_t)pid, fds);
		// Drop the caller's supplementary groups. The Go side sets the
		// command's own from the container's /etc/group, except where
		// setgroups is denied (a single-ID user namespace), and then no
		// group of the host's root must remain. Only root can do it
		// here; a rootless caller's groups are replaced by the Go side,
		// or, single-ID, stay the same as those the container's own
		// processes inherited from cove run.
		if (getuid() == 0)
			setgroups(0, NULL);
		if (fds[0] >= 0) {
			// EINVAL means we are a member already.
			if (setns(fds[0], CLONE_NEWUSER) < 0 && errno != EINVAL)
				fail(errno, "joining the container's user namespace");
			close(fds[0]);
			fds[0] = -1;
			// In a container with a user namespace of its own
			// (--userns=keep-id, --uidmap) our host uid is not root
			// there: the capabilities setns gave us would be lost at
			// the execve below. Become the namespace's root first
			// (setns granted CAP_SETUID in it); the Go side sets the
			// command's user later, as for any exec.
			if (getuid() != 0 && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
				fail(errno, "becoming root in the container's user namespace");
		}
		if (!exe_is_protected())
			reexec_protected(argv, fds);
	} else {
		// Stage B, after reexec_protected: the user namespace is joined.
		fds[0] = -1;
		const char *p = list;
		for (int i = 1; i < NNS; i++) {
			fds[i] = (int)strtol(p, &end, 10);
			if (end == p || (*end != ',' && *end != 0))
				fail(0, "bad %s %s", ENV_NSFDS, list);
			p = *end ? end + 1 : end;
			if (fds[i] >= 0)
				fcntl(fds[i], F_SETFD, FD_CLOEXEC);
		}
		unsetenv(ENV_NSFDS);
	}

	// Stage B: the other namespaces, with the privileges of the user
	// namespace's root. Joining one we are already in is only possible
	// for the user namespace (EINVAL, handled above): open_namespaces
	// left out the others we share.
	for (int i = 1; i < NNS; i++) {
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], namespaces[i].type) < 0)
			fail(errno, "joining the container's %s namespace", namespaces[i].name);
		close(fds[i]);
	}

	// setns(CLONE_NEWPID) does not move us: a process's PID never
	// changes. It only decides the pid namespace of the children we
	// create from now on, so the process that runs the command must be a
	// child forked here (and forked after every other setns, since a child
	// inherits the namespaces of its parent at fork).
	//
	// Signals are blocked across the fork until the waiter has its relay
	// handlers in place: one arriving in between would otherwise kill
	// the waiter (default action) and leave the command orphaned with
	// nobody to report its exit.
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	fflush(NULL);
	pid_t p = fork();
	if (p < 0)
		fail(errno, "forking into the container's pid namespace");
	if (p == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		// The child: a member of every namespace of the container,
		// with a PID in its pid namespace. The pidfd has served its
		// purpose; the config pipe and the sync socket are the Go
		// side's.
		close(PID_FD);
		unsetenv(ENV_PID);
		unsetenv(ENV_EXEFD);
		unsetenv(ENV_DETACH);
		cove_nsenter_joined = 1;
		return;
	}
	// The waiter. It keeps no descriptor the CLI waits on: the sync
	// socket must reach EOF when the child executes the command, which
	// only happens once every copy of the child's end is closed.
	child_pid = p;
	close(CONFIG_FD);
	close(SYNC_FD);
	close(PID_FD);
	if (getenv(ENV_DETACH)) {
		// exec -d: the CLI learns how the start went from the sync
		// socket and does not wait for the command; neither do we. The
		// child is re-parented to the nearest subreaper.
		_exit(0);
	}
	wait_child(&old);
}
