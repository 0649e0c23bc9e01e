// The user-namespace entry of a rootless cove command, done before the Go
// runtime starts.
//
// Why C: a process gains a full capability set in a user namespace it
// creates with unshare(2), but only a single-threaded process may call
// unshare(CLONE_NEWUSER), and the Go runtime is multi-threaded from its
// first instruction. The pure-Go alternative (internal/userns/userns.go)
// has to clone and re-execute the binary twice, paying the Go runtime's
// start-up three times per command; this constructor forks once, and only
// the child ever starts the Go runtime:
//
//	parent (host uid U)                 child
//	                                    unshare(CLONE_NEWUSER|CLONE_NEWNS)
//	                                    "unshared" ->
//	newuidmap/newgidmap on the child
//	"mapped" ->                         uid 0 with all capabilities in the
//	wait, relaying signals,             new namespace: return from the
//	exit with the child's status        constructor into the Go runtime
//
// The parent never returns from this function: it exits with the child's
// status. Anything unexpected makes the constructor return without doing
// anything, and the Go fallback takes over.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_RANGES 16

struct range {
	unsigned long start, length;
};

static pid_t child_pid;

// What the constructor did, for the Go side: the Go runtime takes its
// environment from the initial process stack, so setenv(3) here is not
// visible to os.Getenv; AdoptConstructorState copies these over.
int cove_userns_state; // 0 nothing, 1 full mapping, 2 single ID, 3 failed (info), 4 joined a container's
unsigned int cove_userns_uid, cove_userns_gid;
int cove_userns_errno;
// The write end of the detach pipe in the command's process, -1 if none:
// see wait_child_or_detach.
int cove_detach_fd = -1;
static int tty_stdin;

static void relay_signal(int sig)
{
	// Keystroke signals already reach the child, which shares our process
	// group and terminal; relaying them would deliver them twice.
	if (tty_stdin && (sig == SIGINT || sig == SIGQUIT || sig == SIGWINCH))
		return;
	if (child_pid > 0)
		kill(child_pid, sig);
}

// Global flags that take a separate value; keep in step with
// internal/cli/root.go.
static const char *value_flags[] = {"--root", "--runroot", "--storage-driver", "--log-level", NULL};

// Commands that never enter the namespace; keep in step with the
// "cove/userns: none" annotations in internal/cli. exec joins a running
// container's user namespace instead: only the namespace's owner, on the
// host, may do that (a fresh namespace of ours is a sibling, not a parent).
// pause, unpause, stop, kill and wait signal or watch a container's
// processes and need no storage: from the host, the namespace's owner may
// signal every one of them directly, and skipping the namespace saves the
// fork and the two setuid helpers (3-5 ms).
// cp decides on the host: a running container's user namespace is joined,
// a stopped one's layer is copied in a namespace of our own (see
// join_namespace and _COVE_USERNS_FORCE below). top and stats read the
// container's processes in /proc, which the owner of its namespace may do.
// commit pauses the container from here, then re-executes itself into a
// namespace of its own for storage. healthcheck (run) joins the container
// as exec does; attach only connects to the container's monitor. ps (and
// `container ls|list`) reads only records and /proc, unless asked for
// sizes: then it re-executes itself with _COVE_USERNS_FORCE.
static const char *host_commands[] = {"version", "help", "completion", "__complete", "__completeNoDesc", "login", "logout", "exec", "pause", "unpause", "stop", "kill", "wait", "cp", "top", "stats", "commit", "healthcheck", "attach", "ps", "ls", "list", NULL};

static int in_list(const char *s, const char **list)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

// wants_namespace returns 1 when the command line names a command that
// touches storage, 2 when the command may go on without the namespace
// (info), 0 otherwise (help, version, completion, parse doubts).
static int wants_namespace(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return 0;
		if (a[0] == '-') {
			if (strchr(a, '=') == NULL && in_list(a, value_flags))
				i++;
			continue;
		}
		if (in_list(a, host_commands))
			return 0;
		// `system migrate` retires the keeper (see keeper_namespace).
		if (strcmp(a, "system") == 0 && i + 1 < argc && strcmp(argv[i + 1], "migrate") == 0)
			return 0;
		// `container CMD` is the same as CMD for these commands.
		if (strcmp(a, "container") == 0 && i + 1 < argc && in_list(argv[i + 1], host_commands))
			return 0;
		// Help flags after the command also mean help.
		for (int j = i + 1; j < argc; j++) {
			if (strcmp(argv[j], "--") == 0)
				break;
			if (strcmp(argv[j], "--help") == 0)
				return 0;
		}
		return strcmp(a, "info") == 0 ? 2 : 1;
	}
	return 0;
}

static int read_ranges(const char *file, const char *name, uid_t id, struct range *out)
{
	FILE *f = fopen(file, "re");
	if (!f)
		return 0;
	char line[512], idstr[32];
	snprintf(idstr, sizeof idstr, "%u", (unsigned)id);
	int n = 0;
	while (n < MAX_RANGES && fgets(line, sizeof line, f)) {
		char *owner = strtok(line, ":\n");
		char *start = strtok(NULL, ":\n");
		char *count = strtok(NULL, ":\n");
		if (!owner || !start || !count || owner[0] == '#')
			continue;
		if (strcmp(owner, name) != 0 && strcmp(owner, idstr) != 0)
			continue;
		char *e1, *e2;
		unsigned long s = strtoul(start, &e1, 10), c = strtoul(count, &e2, 10);
		if (*e1 || *e2 || c == 0)
			continue;
		out[n].start = s;
		out[n].length = c;
		n++;
	}
	fclose(f);
	return n;
}

static int find_in_path(const char *prog, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *save = NULL, *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, outlen, "%s/%s", dir, prog);
		if (access(out, X_OK) == 0)
			return 1;
	}
	return 0;
}

// start_map starts newuidmap/newgidmap for the child; they are setuid root
// and check /etc/subuid themselves. The kernel would refuse these
// multi-range maps from us.
struct map_helper {
	pid_t pid;
	int errfd;
};

static int start_map(const char *helper, pid_t pid, unsigned long id, struct range *r, int n, struct map_helper *h)
{
	char *args[4 + 3 * (MAX_RANGES + 1) + 1];
	char nums[3 * (MAX_RANGES + 2)][24];
	int a = 0, k = 0;
	args[a++] = (char *)helper;
	snprintf(nums[k], 24, "%d", pid);
	args[a++] = nums[k++];
	args[a++] = "0";
	snprintf(nums[k], 24, "%lu", id);
	args[a++] = nums[k++];
	args[a++] = "1";
	unsigned long next = 1;
	for (int i = 0; i < n; i++) {
		snprintf(nums[k], 24, "%lu", next);
		args[a++] = nums[k++];
		snprintf(nums[k], 24, "%lu", r[i].start);
		args[a++] = nums[k++];
		snprintf(nums[k], 24, "%lu", r[i].length);
		args[a++] = nums[k++];
		next += r[i].length;
	}
	args[a] = NULL;
	int errpipe[2];
	h->pid = -1;
	h->errfd = -1;
	if (pipe2(errpipe, O_CLOEXEC) < 0)
		return -1;
	pid_t p = fork();
	if (p < 0) {
		close(errpipe[0]);
		close(errpipe[1]);
		return -1;
	}
	if (p == 0) {
		dup2(errpipe[1], 2);
		execv(helper, args);
		_exit(127);
	}
	close(errpipe[1]);
	h->pid = p;
	h->errfd = errpipe[0];
	return 0;
}

// finish_map collects a helper's error output and status; err keeps the
// first failure's message.
static int finish_map(struct map_helper *h, char *err, size_t errlen)
{
	if (h->pid < 0)
		return -1;
	char buf[512];
	ssize_t got = read(h->errfd, buf, sizeof buf - 1);
	buf[got > 0 ? got : 0] = 0;
	close(h->errfd);
	int st;
	while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
		;
	int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ok && err[0] == 0)
		snprintf(err, errlen, "%s", buf);
	return ok ? 0 : -1;
}

// run_maps runs newuidmap and newgidmap side by side: each is a setuid
// program that reads /etc/login.defs and the subid files, about 1.5 ms,
// and every rootless command waits for both.
static int run_maps(const char *uidhelper, const char *gidhelper, pid_t pid, uid_t uid, gid_t gid,
		    struct range *subuid, int nuid, struct range *subgid, int ngid, char *err, size_t errlen)
{
	struct map_helper hu, hg;
	int su = start_map(uidhelper, pid, uid, subuid, nuid, &hu);
	int sg = start_map(gidhelper, pid, gid, subgid, ngid, &hg);
	int fu = finish_map(&hu, err, errlen);
	int fg = finish_map(&hg, err, errlen);
	return (su < 0 || sg < 0 || fu < 0 || fg < 0) ? -1 : 0;
}

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t len = (ssize_t)strlen(data);
	ssize_t w = write(fd, data, len);
	close(fd);
	return w == len ? 0 : -1;
}

// single_map maps only our own IDs, which the kernel allows an
// unprivileged parent to write; setgroups must be denied first.
static int single_map(pid_t pid, uid_t uid, gid_t gid)
{
	char path[64], buf[64];
	snprintf(path, sizeof path, "/proc/%d/setgroups", pid);
	write_file(path, "deny");
	snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
	snprintf(buf, sizeof buf, "0 %u 1\n", (unsigned)uid);
	if (write_file(path, buf) < 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
	snprintf(buf, sizeof buf, "0 %u 1\n", (unsigned)gid);
	return write_file(path, buf);
}

static void set_child_env(uid_t uid, gid_t gid, int single)
{
	char buf[32];
	setenv("_COVE_USERNS_STAGE", "2", 1);
	setenv("_CONTAINERS_USERNS_CONFIGURED", "done", 1);
	snprintf(buf, sizeof buf, "%u", (unsigned)uid);
	setenv("_CONTAINERS_ROOTLESS_UID", buf, 1);
	snprintf(buf, sizeof buf, "%u", (unsigned)gid);
	setenv("_CONTAINERS_ROOTLESS_GID", buf, 1);
	if (single)
		setenv("_COVE_USERNS_SINGLE", "1", 1);
}


// The keeper: one user namespace per user, shared by every cove command.
//
// Creating a namespace per command made containers started by different
// commands siblings: none has privilege over another's namespaces, so no
// command could join a network namespace another one made (user-defined
// networks, `--network container:NAME`). It also cost every command two
// setuid helpers. So the first command creates the namespace in a small
// process that does nothing but keep it alive (the "keeper", Podman's
// pause process), records it in KEEPERDIR/userns.pid, and every later
// command joins it with setns(2), which its owner (the user, from the
// host's namespace) may do. Each command still gets a mount namespace of
// its own, unshared after the join.
//
// The keeper lives until it is killed (`cove system migrate` does that, so
// that changed /etc/subuid ranges take effect) or the machine reboots. A
// dead keeper is noticed by its start time and replaced; the containers
// still running in its namespace keep it alive and are unaffected.

// keeper_dir finds the directory of the keeper's files: $XDG_RUNTIME_DIR/cove,
// or /tmp/cove-run-UID as internal/config chooses it, and creates it. The
// directory must be ours and private, or another user could point us at a
// namespace of theirs (setns would refuse it, but we would not get ours).
static int private_dir(const char *dir, uid_t uid)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	struct stat st;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 0022))
		return -1;
	return 0;
}

static int keeper_dir(uid_t uid, char *out, size_t n)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid && !(st.st_mode & 0022)) {
		snprintf(out, n, "%s/cove", xdg);
		return private_dir(out, uid);
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(out, n, "%s/cove-run-%u", tmp && tmp[0] == '/' ? tmp : "/tmp", (unsigned)uid);
	return private_dir(out, uid);
}

// read_proc reads /proc/PID/NAME (one read: these files are small) into
// buf as a string.
static int read_proc(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return 0;
}

// start_time reads field 22 of /proc/PID/stat: with the PID it names a
// process uniquely (PIDs are reused, start times of one PID are not).
static unsigned long long start_time(pid_t pid)
{
	char buf[1024];
	if (read_proc(pid, "stat", buf, sizeof buf) < 0)
		return 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	// After "(comm)": state is field 3, starttime field 22. A zombie has
	// no start time for us: its namespace can still be opened, but is no
	// longer kept alive by anything.
	if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
		return 0;
	int field = 2;
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
}

// map_matches compares a process's uid_map or gid_map with the map cove
// would write for the user now, so that changed subordinate ranges are not
// silently ignored.
static int map_matches(pid_t pid, const char *which, unsigned long id, struct range *r, int nr)
{
	char buf[2048];
	if (read_proc(pid, which, buf, sizeof buf) < 0)
		return 0;
	unsigned long want[3 * (MAX_RANGES + 1)];
	int w = 0;
	want[w++] = 0, want[w++] = id, want[w++] = 1;
	unsigned long next = 1;
	for (int i = 0; i < nr; i++) {
		want[w++] = next, want[w++] = r[i].start, want[w++] = r[i].length;
		next += r[i].length;
	}
	char *p = buf;
	for (int i = 0; i < w; i++) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || v != want[i])
			return 0;
		p = end;
	}
	while (*p == ' ' || *p == '\n')
		p++;
	return *p == 0;
}

// What a keeper's namespace maps: 'f' the subordinate ranges, 's' only the
// user's IDs because the user has no ranges or helpers, 'F' only the
// user's IDs because the helpers refused the ranges (retrying would fail
// the same way on every command).
struct want_map {
	int single;
	uid_t uid;
	gid_t gid;
	struct range *subuid, *subgid;
	int nuid, ngid;
};

// open_keeper returns a descriptor of the recorded keeper's user
// namespace, or -1 when there is no usable keeper. *mode gets its mapping
// kind.
static int open_keeper(const char *dir, struct want_map *w, char *mode)
{
	char path[4200], buf[128];
	snprintf(path, sizeof path, "%s/userns.pid", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	int pid;
	unsigned long long start;
	char m;
	if (sscanf(buf, "%d %llu %c", &pid, &start, &m) != 3 || pid <= 1)
		return -1;
	if (w->single ? m != 's' : !(m == 'F' || (m == 'f' && map_matches(pid, "uid_map", w->uid, w->subuid, w->nuid) &&
						      map_matches(pid, "gid_map", w->gid, w->subgid, w->ngid))))
		return -1;
	snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	// Checked after the open: if the PID now names the keeper, it did when
	// the descriptor was opened too (a reused PID starts later).
	if (start_time(pid) != start) {
		close(fd);
		return -1;
	}
	*mode = m;
	return fd;
}

static char **saved_argv;
static int saved_argc;

// keeper_main is the keeper's whole life once its namespace is mapped.
static void keeper_main(void)
{
	// ps shows the command line of the command that forked us: say what we
	// are instead (the arguments are contiguous; overwrite them in place).
	if (saved_argc > 0) {
		char *end = saved_argv[saved_argc - 1] + strlen(saved_argv[saved_argc - 1]);
		memset(saved_argv[0], 0, end - saved_argv[0]);
		snprintf(saved_argv[0], end - saved_argv[0] + 1, "%s", "cove-userns");
	}
	// Hold nothing of the command that made us: no descriptors (a pipe
	// kept open would make a caller wait for ever), no working directory
	// (it would pin a mount).
	int maxfd = (int)sysconf(_SC_OPEN_MAX);
	for (int fd = 0; fd < maxfd && fd < 65536; fd++)
		close(fd);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0), dup2(null, 1), dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (chdir("/") < 0) {}
	prctl(PR_SET_NAME, "cove-userns");
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (;;)
		pause();
}

// make_keeper creates a keeper and records it; the caller holds the lock.
// It returns a descriptor of the new namespace, or -1 with *err_errno set
// when the namespace cannot be created at all.
static int make_keeper(const char *dir, struct want_map *w, const char *newuidmap, const char *newgidmap, char *mode, int *err_errno)
{
	int to_keeper[2], from_keeper[2];
	if (pipe2(to_keeper, O_CLOEXEC) < 0 || pipe2(from_keeper, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid_t mid = fork();
	if (mid < 0)
		return -1;
	if (mid == 0) {
		// A middle process, so that the keeper is nobody's child: it
		// would otherwise stay a child of this command (and a zombie of
		// it if killed), and be killed with a terminal's process group.
		setsid();
		pid_t k = fork();
		if (k != 0)
			_exit(k < 0 ? 1 : 0);
		close(to_keeper[1]);
		close(from_keeper[0]);
		struct {
			char status;
			int pid, err;
		} msg = {'u', getpid(), 0};
		if (unshare(CLONE_NEWUSER) < 0)
			msg.status = 'E', msg.err = errno;
		if (write(from_keeper[1], &msg, sizeof msg) != sizeof msg || msg.status != 'u')
			_exit(1);
		char verdict = 0;
		ssize_t n;
		while ((n = read(to_keeper[0], &verdict, 1)) < 0 && errno == EINTR)
			;
		// No verdict: the command died before the maps were written, and
		// an unmapped namespace is of no use to anyone.
		if (n != 1 || verdict != 'k')
			_exit(1);
		keeper_main();
	}
	close(to_keeper[0]);
	close(from_keeper[1]);
	int st;
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
		;
	struct {
		char status;
		int pid, err;
	} msg = {0, 0, 0};
	ssize_t n;
	while ((n = read(from_keeper[0], &msg, sizeof msg)) < 0 && errno == EINTR)
		;
	close(from_keeper[0]);
	if (n != sizeof msg || msg.status != 'u') {
		close(to_keeper[1]);
		*err_errno = n == sizeof msg ? msg.err : EAGAIN;
		return -1;
	}
	pid_t k = msg.pid;
	char m = 'f';
	if (w->single) {
		m = 's';
		if (single_map(k, w->uid, w->gid) < 0) {
			*err_errno = errno;
			close(to_keeper[1]);
			return -1;
		}
	} else {
		char err[512] = "";
		if (run_maps(newuidmap, newgidmap, k, w->uid, w->gid, w->subuid, w->nuid, w->subgid, w->ngid, err, sizeof err) < 0) {
			// join_keeper's caller warns, on this and every later command.
			fprintf(stderr, "cove: newuidmap/newgidmap: %s\n", err[0] ? strtok(err, "\n") : "failed");
			m = 'F';
			if (single_map(k, w->uid, w->gid) < 0) {
				*err_errno = errno;
				close(to_keeper[1]);
				return -1;
			}
		}
	}
	char path[4200];
	snprintf(path, sizeof path, "/proc/%d/ns/user", k);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err_errno = errno;
		close(to_keeper[1]);
		return -1;
	}
	// Record it, then let it live: killed before the record, we leave a
	// keeper that exits at the pipe's EOF; killed after it, a record of
	// a keeper that exits, which the next command replaces. Never a
	// keeper nobody knows of. The record is written to a temporary name
	// and renamed, so that a reader never sees half of it. Without a
	// record the keeper is not told to live: this command keeps the
	// namespace alive by being in it, as before keepers.
	char tmp[4200], rec[128];
	snprintf(tmp, sizeof tmp, "%s/userns.pid.%d", dir, getpid());
	snprintf(path, sizeof path, "%s/userns.pid", dir);
	int n2 = snprintf(rec, sizeof rec, "%d %llu %c\n", k, start_time(k), m);
	int recorded = 0;
	int rfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (rfd >= 0) {
		recorded = write(rfd, rec, n2) == n2;
		close(rfd);
		if (!recorded || rename(tmp, path) < 0) {
			recorded = 0;
			unlink(tmp);
		}
	}
	char verdict = 'k';
	if (recorded && write(to_keeper[1], &verdict, 1) != 1) {}
	close(to_keeper[1]);
	*mode = m;
	return fd;
}

// keeper_namespace returns a descriptor of the user's shared namespace,
// joining the recorded keeper or creating one; -1 when there is no place
// for the record (the caller then makes a namespace of its own, as before
// keepers), -2 with *err_errno when no namespace can be created.
static int keeper_namespace(struct want_map *w, const char *newuidmap, const char *newgidmap, char *mode, int *err_errno)
{
	char dir[4096];
	if (keeper_dir(w->uid, dir, sizeof dir) < 0)
		return -1;
	int fd = open_keeper(dir, w, mode);
	if (fd >= 0)
		return fd;
	// Only one command creates the keeper; the others wait and join it.
	char lock[4200];
	snprintf(lock, sizeof lock, "%s/userns.lock", dir);
	int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0)
		return -1;
	while (flock(lfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(lfd);
			return -1;
		}
	}
	fd = open_keeper(dir, w, mode);
	if (fd < 0) {
		// A keeper that no longer fits (other ranges now) is retired: its
		// namespace lives on in the containers that use it.
		char path[4200], buf[128];
		snprintf(path, sizeof path, "%s/userns.pid", dir);
		int rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (rfd >= 0) {
			ssize_t n = read(rfd, buf, sizeof buf - 1);
			close(rfd);
			int pid;
			unsigned long long start;
			if (n > 0 && (buf[n] = 0, sscanf(buf, "%d %llu", &pid, &start) == 2) && pid > 1 && start_time(pid) == start)
				kill(pid, SIGKILL);
		}
		fd = make_keeper(dir, w, newuidmap, newgidmap, mode, err_errno);
		if (fd < 0)
			fd = -2;
	}
	close(lfd);
	return fd;
}

// join_namespace moves this process into an existing user namespace: a
// running container's, whose descriptor the host-side cove opened and
// passed as fd (see engine.CopyJoin: `cp` to or from a running container).
// Only the owner of a user namespace, from its parent namespace, may join
// it, and only a single-threaded process: hence here, before Go. No fork is
// needed, and unlike `cove exec` no other namespace is joined: the process
// stays in the host's mount and pid namespaces, reaches the container's
// files through /proc/PID/root with the namespace root's privilege over
// them, and never runs anything inside the container, so no process there
// can see it.
static void join_namespace(const char *fdstr)
{
	char *end;
	long fd = strtol(fdstr, &end, 10);
	if (*end || fd < 3) {
		fprintf(stderr, "Error: bad %s\n", "_COVE_USERNS_JOIN_FD");
		_exit(125);
	}
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (setns((int)fd, CLONE_NEWUSER) < 0) {
		fprintf(stderr, "Error: joining the container's user namespace: %s\n", strerror(errno));
		_exit(125);
	}
	close((int)fd);
	// Drop the host's supplementary groups where the namespace allows it
	// (denied in a single-ID namespace; harmless to keep there).
	if (setgroups(0, NULL) < 0) {}
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		fprintf(stderr, "Error: becoming root of the container's user namespace: %s\n", strerror(errno));
		_exit(125);
	}
	cove_userns_state = 4;
	cove_userns_uid = uid;
	cove_userns_gid = gid;
}

static void relay_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = relay_signal;
	sa.sa_flags = SA_RESTART;
	int relayed[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCONT, 0};
	for (int i = 0; relayed[i]; i++)
		sigaction(relayed[i], &sa, NULL);
}

// wait_child_and_exit is the parent's end: it exits with the child's
// status.
static void wait_child_and_exit(pid_t pid, struct termios *t)
{
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			_exit(125);
	}
	// If the child died without restoring the terminal (run -t killed
	// with SIGKILL), put the user's terminal back as we found it.
	if (tty_stdin)
		tcsetattr(0, TCSANOW, t);
	if (WIFSIGNALED(st))
		_exit(128 + WTERMSIG(st));
	_exit(WEXITSTATUS(st));
}

// wait_child_or_detach is wait_child_and_exit, except that the child may
// end the wait early: a `run -d` that has started its container becomes
// the container's monitor in place, rather than starting a launcher (a
// second process and a second Go start), and must not keep the user's
// shell waiting for it. It clears its parent-death signal, then writes its
// exit code on the pipe; we exit with it. EOF (the child exited, or
// executed something else: the pipe is close-on-exec) means: wait for it.
static void wait_child_or_detach(pid_t pid, int fd, struct termios *t)
{
	unsigned char code;
	ssize_t n;
	// relay_signals installed SA_RESTART handlers: a relayed signal does
	// not end the read.
	while ((n = read(fd, &code, 1)) < 0 && errno == EINTR)
		;
	if (n == 1)
		_exit(code);
	close(fd);
	wait_child_and_exit(pid, t);
}

// die_with_parent makes the forked command die with the parent that
// relays its status, as if it had been killed with it: a command whose
// parent was killed (kill -9 of the cove the user started) must not go on
// unseen, changing the store behind the user's next commands.
//
// PR_SET_PDEATHSIG only covers a parent that dies after the prctl: the
// kernel sends the signal when it reparents the children of a dying
// process, and a child that has not run yet since fork(2) (the usual
// order: the parent runs on) is reparented without one if the parent is
// killed first. Its parent is then no longer the one that forked it, so
// compare getppid() with the forker's pid once the signal is armed.
static void die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		raise(SIGKILL);
}

// join_keeper forks the command into the keeper's namespace. The parent
// stays on the host, as when the command makes its own namespace: it
// relays signals and restores the terminal if the child is killed.
static void join_keeper(int nsfd, uid_t uid, gid_t gid, int single)
{
	fflush(NULL);
	struct termios t;
	tty_stdin = tcgetattr(0, &t) == 0;
	int detach[2] = {-1, -1};
	if (pipe2(detach, O_CLOEXEC) < 0)
		detach[0] = detach[1] = -1;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "Error: fork: %s\n", strerror(errno));
		_exit(125);
	}
	if (pid == 0) {
		die_with_parent(parent);
		if (detach[0] >= 0)
			close(detach[0]);
		cove_detach_fd = detach[1];
		// setns into a user namespace grants every capability in it
		// (we own it); the mount namespace is then our own copy of the
		// host's, owned by that namespace, so that storage's mounts are
		// private to this command, as with a namespace of our own.
		if (setns(nsfd, CLONE_NEWUSER) < 0 || unshare(CLONE_NEWNS) < 0) {
			fprintf(stderr, "Error: joining cove's user namespace: %s (fix: cove system migrate)\n", strerror(errno));
			_exit(125);
		}
		close(nsfd);
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
			fprintf(stderr, "Error: becoming root of cove's user namespace: %s\n", strerror(errno));
			_exit(125);
		}
		set_child_env(uid, gid, single);
		cove_userns_state = single ? 2 : 1;
		cove_userns_uid = uid;
		cove_userns_gid = gid;
		return;
	}
	close(nsfd);
	child_pid = pid;
	relay_signals();
	if (detach[0] < 0)
		wait_child_and_exit(pid, &t);
	close(detach[1]);
	wait_child_or_detach(pid, detach[0], &t);
}

__attribute__((constructor)) static void cove_userns_entry(int argc, char **argv, char **envp)
{
	(void)envp;
	// The container init: its own constructor (internal/runtime/initproc,
	// cinit_linux.c) joins its network namespace and sets it up.
	if (argc >= 1 && strcmp(argv[0], "cove-init") == 0)
		return;
	// Joining is asked for explicitly by a cove on the host, also when the
	// Go fallback is chosen for creating namespaces (_COVE_USERNS_GO):
	// that fallback cannot join one.
	const char *join = getenv("_COVE_USERNS_JOIN_FD");
	if (join && !getenv("_COVE_USERNS_STAGE") && geteuid() != 0) {
		join_namespace(join);
		return;
	}
	if (getenv("_COVE_USERNS_STAGE") || getenv("_COVE_USERNS_GO") || geteuid() == 0 || argc < 1)
		return;
	// Only the CLI: test binaries and other programs linking this package
	// keep their own behaviour.
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strcmp(base, "cove") != 0 && strcmp(base, "docker") != 0)
		return;
	// _COVE_USERNS_FORCE: a host command that found it needs the
	// namespace after all (cp of a stopped container) re-executes itself.
	int mode = getenv("_COVE_USERNS_FORCE") ? 1 : wants_namespace(argc, argv);
	if (mode == 0)
		return;

	uid_t uid = getuid();
	gid_t gid = getgid();
	char name[256];
	struct passwd *pw = getpwuid(uid);
	snprintf(name, sizeof name, "%s", pw ? pw->pw_name : "");
	if (!pw)
		snprintf(name, sizeof name, "%u", (unsigned)uid);

	struct range subuid[MAX_RANGES], subgid[MAX_RANGES];
	int nuid = read_ranges("/etc/subuid", name, uid, subuid);
	int ngid = read_ranges("/etc/subgid", name, uid, subgid);
	char newuidmap[4096], newgidmap[4096];
	int have_helpers = find_in_path("newuidmap", newuidmap, sizeof newuidmap) && find_in_path("newgidmap", newgidmap, sizeof newgidmap);
	int single = !(nuid > 0 && ngid > 0 && have_helpers);
	if (single) {
		// Same wording as userns.NewPlan, which the Go fallback prints.
		fprintf(stderr, "cove: warning: using a single-ID user namespace (images with files owned by other users lose that ownership, and containers cannot switch users): ");
		if (nuid == 0 || ngid == 0)
			fprintf(stderr, "no subordinate ID range for user \"%s\" in /etc/subuid and /etc/subgid; fix: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s%s", name, name, have_helpers ? "" : "; ");
		if (!have_helpers)
			fprintf(stderr, "newuidmap/newgidmap not found; fix: sudo apt-get install uidmap (Debian/Ubuntu) or sudo dnf install shadow-utils (Fedora)");
		fputc('\n', stderr);
	}

	saved_argv = argv;
	saved_argc = argc;
	struct want_map want = {single, uid, gid, subuid, subgid, nuid, ngid};
	char kmode = 0;
	int kerr = 0;
	int kfd = getenv("_COVE_USERNS_NO_KEEPER") ? -1 : keeper_namespace(&want, newuidmap, newgidmap, &kmode, &kerr);
	if (kfd == -2) {
		if (mode == 2) {
			cove_userns_state = 3;
			cove_userns_errno = kerr;
			return;
		}
		fprintf(stderr, "Error: creating a user namespace: %s (unprivileged user namespaces may be disabled; check: sysctl user.max_user_namespaces kernel.unprivileged_userns_clone; fix: sudo sysctl -w user.max_user_namespaces=28633)\n", strerror(kerr));
		_exit(125);
	}
	if (kfd >= 0) {
		if (kmode == 'F' && !single)
			fprintf(stderr, "cove: warning: using a single-ID user namespace: newuidmap/newgidmap refused the subordinate ID ranges when it was created; fix the ranges, then run: cove system migrate\n");
		join_keeper(kfd, uid, gid, kmode != 'f');
		return;
	}

	int to_child[2], to_parent[2];
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(to_parent, O_CLOEXEC) < 0)
		return;
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		// Child. If the parent dies, so do we: a half-set-up namespace
		// must not go on alone.
		die_with_parent(parent);
		close(to_child[1]);
		close(to_parent[0]);
		char status = 'u';
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
			status = 'E';
			int e = errno;
			if (write(to_parent[1], &status, 1) < 0) {}
			if (write(to_parent[1], &e, sizeof e) < 0) {}
			_exit(125);
		}
		if (write(to_parent[1], &status, 1) < 0)
			_exit(125);
		char verdict = 0;
		ssize_t n;
		while ((n = read(to_child[0], &verdict, 1)) < 0 && errno == EINTR)
			;
		if (n != 1)
			_exit(125);
		close(to_child[0]);
		close(to_parent[1]);
		// The maps are written; become root of the namespace explicitly
		// so that saved and filesystem IDs agree.
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			_exit(125);
		set_child_env(uid, gid, single || verdict == 's');
		cove_userns_state = (single || verdict == 's') ? 2 : 1;
		cove_userns_uid = uid;
		cove_userns_gid = gid;
		return;
	}

	// Parent.
	close(to_child[0]);
	close(to_parent[1]);
	child_pid = pid;
	struct termios t;
	tty_stdin = tcgetattr(0, &t) == 0;
	char status = 0;
	ssize_t n;
	while ((n = read(to_parent[0], &status, 1)) < 0 && errno == EINTR)
		;
	if (n != 1 || status != 'u') {
		int e = 0;
		if (n == 1 && read(to_parent[0], &e, sizeof e) != sizeof e)
			e = 0;
		int st;
		waitpid(pid, &st, 0);
		if (mode == 2) {
			// info reports the failure itself, from the host.
			cove_userns_state = 3;
			cove_userns_errno = e;
			return;
		}
		fprintf(stderr, "Error: creating a user namespace: %s (unprivileged user namespaces may be disabled; check: sysctl user.max_user_namespaces kernel.unprivileged_userns_clone; fix: sudo sysctl -w user.max_user_namespaces=28633)\n", strerror(e));
		_exit(125);
	}
	char verdict = 'f';
	if (single) {
		verdict = 's';
		if (single_map(pid, uid, gid) < 0) {
			fprintf(stderr, "Error: writing the single-ID map of the user namespace: %s\n", strerror(errno));
			kill(pid, SIGKILL);
			_exit(125);
		}
	} else {
		char err[512] = "";
		if (run_maps(newuidmap, newgidmap, pid, uid, gid, subuid, nuid, subgid, ngid, err, sizeof err) < 0) {
			// The helpers refused (a range they do not accept, a nosuid
			// mount): go on with a single ID rather than fail.
			fprintf(stderr, "cove: warning: setting up the subordinate ID mapping failed (%s); using a single-ID user namespace instead\n", err[0] ? strtok(err, "\n") : "newuidmap/newgidmap failed");
			verdict = 's';
			if (single_map(pid, uid, gid) < 0) {
				fprintf(stderr, "Error: writing the single-ID map of the user namespace: %s\n", strerror(errno));
				kill(pid, SIGKILL);
				_exit(125);
			}
		}
	}
	relay_signals();
	if (write(to_child[1], &verdict, 1) != 1) {
		kill(pid, SIGKILL);
		_exit(125);
	}
	close(to_child[1]);
	close(to_parent[0]);
	wait_child_and_exit(pid, &t);
}
