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
#include <sys/prctl.h>
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

__attribute__((constructor)) static void cove_userns_entry(int argc, char **argv, char **envp)
{
	(void)envp;
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

	int to_child[2], to_parent[2];
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(to_parent, O_CLOEXEC) < 0)
		return;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		// Child. If the parent dies, so do we: a half-set-up namespace
		// must not go on alone.
		prctl(PR_SET_PDEATHSIG, SIGKILL);
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
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = relay_signal;
	sa.sa_flags = SA_RESTART;
	int relayed[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCONT, 0};
	for (int i = 0; relayed[i]; i++)
		sigaction(relayed[i], &sa, NULL);
	if (write(to_child[1], &verdict, 1) != 1) {
		kill(pid, SIGKILL);
		_exit(125);
	}
	close(to_child[1]);
	close(to_parent[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			_exit(125);
	}
	// If the child died without restoring the terminal (run -t killed
	// with SIGKILL), put the user's terminal back as we found it.
	if (tty_stdin)
		tcsetattr(0, TCSANOW, &t);
	if (WIFSIGNALED(st))
		_exit(128 + WTERMSIG(st));
	_exit(WEXITSTATUS(st));
}
