// The per-container monitor: the steady state of a detached container's
// supervisor, in C, so that it costs a few hundred kilobytes instead of the
// ~24 MB of a process running the Go runtime.
//
// Life of a detached container (see internal/engine/launch.go):
//
//	cove (CLI)  --spawn, setsid, fd 3 = sync pipe-->  cove-launch (Go)
//	                                                  mounts the rootfs, starts the
//	                                                  container (its parent, from the
//	                                                  main thread), records "running",
//	                                                  writes "started" on fd 3
//	                                                  execve (same PID) ->
//	                                                  cove-monitor (this file, C)
//	                                                  logs, relays signals, waits
//	                                                  execve (same PID) on exit ->
//	                                                  cove-launch --exited N (Go)
//	                                                  records the exit, applies the
//	                                                  restart policy (and may start
//	                                                  the container and come back here)
//
// Why the PID never changes: the container's init was cloned with a
// parent-death signal of SIGKILL, which the kernel ties to the *thread*
// that cloned it and sends when that thread exits. The launcher cloned it
// from its main thread (the thread-group leader), and execve(2) keeps the
// thread-group leader: other threads die, the leader becomes the new
// program. So the container outlives both execs, and it dies exactly when
// this process dies, kill -9 included; the next cove command then finds a
// dead Pid and reports the container as exited.
//
// This constructor runs before the Go runtime exists, only when argv[0] is
// "cove-monitor", and never returns into Go: it ends in execve(2) back to
// the launcher, or in _exit(2). It is single-threaded and installs no
// signal handler at all: every signal it cares about is blocked and read
// from a signalfd, so nothing here has to be async-signal-safe and the
// main loop may use any libc function.
//
// Arguments (pairs, in any order; the launcher builds them):
//
//	--id ID            the container's full ID (passed back to the launcher)
//	--dir DIR          the container's state directory
//	--pid PID          the container's first process, our child
//	--log-driver D     json-file, k8s-file or none
//	--log-path P       the log file
//	--log-max-size N   rotate before the file would exceed N bytes (0: never)
//	--log-max-file N   keep at most N files (P, P.1, ... P.N-1)
//	--stdout FD --stderr FD   read ends of the container's output pipes
//	--console FD       the master side of the container's terminal (-t),
//	                   logged as stdout
//	--stdin FD         write end of the container's stdin pipe (-i), held
//	                   open for a later attach
//	--backoff MS       the restart back-off, passed back to the launcher
//	--health-interval MS --health-timeout MS --health-start-period MS
//	--health-start-interval MS
//	                   the container's healthcheck schedule (absent: none);
//	                   see "Healthchecks" below
//	--attach-wait MS   read nothing of the container's output until the
//	                   first attach client connects (start -a), at most MS
//
// Files in DIR this process uses:
//
//	relay/SIG-...  signal requests (see relay_requests)
//	relay.sig      a single signal request, decimal (see relay_requests)
//	attach         the attach socket (see "Attach" below)
//	exit           the container's exit, written before anything else is
//	               attempted after it: "PID exited|signaled N SEC.NSEC\n"
//	               (written to .exit.tmp and renamed)
//
// Formats written (the Go writer in internal/engine/logs_writer.go writes
// the same bytes, which internal/monitor/format_test.go checks):
//
//	json-file  {"log":"text\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
//	           (Docker's; time is Go's RFC3339Nano in UTC, trailing zeros
//	           trimmed; a line longer than 16 KiB is cut into entries whose
//	           "log" has no trailing newline, as is a last line without one)
//	k8s-file   2024-05-01T10:00:00.123456789Z stdout F text
//	           (CRI/podman's; 9 fraction digits; F a full line, P a part)

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MONITOR_ROLE "cove-monitor"
#define LAUNCH_ROLE "cove-launch"
#define HEALTH_ROLE "cove-health"

// The real-time signal that asks us to look at DIR/relay. Kept in step with
// engine.RelaySignal. 40 is SIGRTMIN+6 for glibc and musl alike.
#define RELAY_SIGNAL 40

// The longest log entry's text. Lines are cut at this size so that a
// container printing megabytes without a newline cannot make us buffer
// them; the Go writer uses the same constant (engine.logLineMax).
#define LINE_MAX_BYTES 16384

// After the container's first process exits, other processes may still
// hold its output pipes (with a pid namespace the kernel is killing them;
// without one they may live on): read what comes for as long as data keeps
// arriving, but at most DRAIN_MAX_MS, and stop after DRAIN_IDLE_MS of
// silence.
#define DRAIN_MAX_MS 2000
#define DRAIN_IDLE_MS 200

enum { DRV_NONE, DRV_JSON, DRV_K8S };

extern char **environ;

struct stream {
	int fd;		  // -1 once closed
	const char *name; // "stdout" or "stderr"
	size_t len;	  // bytes of an unfinished line in buf
	char buf[LINE_MAX_BYTES];
};

// Everything lives in static storage: BSS pages cost nothing until they
// are touched, and a 16 KiB line buffer is only touched as far as lines
// are long.
static struct stream streams[2];

static struct {
	int driver;
	int fd;
	const char *path;
	long long size;	    // bytes in the current file
	long long max_size; // 0: no rotation
	int max_file;
	size_t olen;
	char out[8192]; // output buffer: one write(2) per read of the container's output
} lg = {.fd = -1};

static const char *ctr_id, *ctr_dir, *backoff = "0";
static pid_t ctr_pid;
static int stdin_fd = -1;
static int exited;	    // the container's first process has been reaped
static int exit_status;	    // its wait status
static struct timespec finished; // when we reaped it (CLOCK_REALTIME)
static char relay_dir[PATH_MAX], relay_file[PATH_MAX], relay_taken[PATH_MAX];

// Healthchecks (see the section below). Times are CLOCK_MONOTONIC ms.
static struct {
	long long interval, timeout, start_period, start_interval; // interval 0: none
	long long started;	 // when we started supervising this run
	long long next;		 // when the next probe is due
	long long probe_started; // when the running helper was started
	pid_t pid;		 // the running helper, 0 if none
	int status;		 // the helper's last exit code (HEALTH_*)
} health;

// Exit codes of the helper (engine.healthExit*): the status after its
// probe, or nothing recorded.
enum { HEALTH_HEALTHY = 0, HEALTH_UNHEALTHY = 1, HEALTH_STARTING = 2, HEALTH_SKIPPED = 3 };

// A helper that outlives its probe's timeout by this much is stuck (it
// enforces the timeout itself): it is killed and the probe is lost.
#define HEALTH_GRACE_MS 10000

static long long now_ms(void);
static void health_done(int st);
static void attach_output(int stream, const char *p, size_t n);
static int attach_blocked(void);

// ---------------------------------------------------------------- output

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			// A full disk or a removed file loses log lines, never the
			// container: give up on this chunk.
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void out_flush(void)
{
	if (lg.olen > 0 && lg.fd >= 0)
		write_all(lg.fd, lg.out, lg.olen);
	lg.olen = 0;
}

static void out_put(const char *p, size_t n)
{
	while (n > 0) {
		if (lg.olen == sizeof lg.out)
			out_flush();
		size_t k = sizeof lg.out - lg.olen;
		if (k > n)
			k = n;
		memcpy(lg.out + lg.olen, p, k);
		lg.olen += k;
		p += k;
		n -= k;
	}
}

static void out_str(const char *s) { out_put(s, strlen(s)); }

// ------------------------------------------------------------ formatting

// utf8_next decodes one UTF-8 sequence at s (n bytes available) and returns
// its length, storing the code point in *r; an invalid or truncated
// sequence is one byte long with *r = -1. These are the rules of Go's
// utf8.DecodeRune (no surrogates, no overlong forms, at most U+10FFFF), so
// that both writers replace exactly the same bytes.
static size_t utf8_next(const unsigned char *s, size_t n, long *r)
{
	unsigned char c = s[0];
	*r = -1;
	if (c < 0x80) {
		*r = c;
		return 1;
	}
	size_t len;
	long cp;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 1;
	}
	if (n < len)
		return 1;
	for (size_t i = 1; i < len; i++) {
		unsigned char b = s[i];
		if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
			return 1;
		cp = (cp << 6) | (b & 0x3F);
	}
	*r = cp;
	return len;
}

// json_escape writes s as the inside of a JSON string, escaping as Go's
// encoding/json does by default: quote, backslash, \n \r \t, other control
// characters as \u00XX, the HTML-sensitive < > & as \u003c \u003e \u0026,
// U+2028 and U+2029, and every byte of invalid UTF-8 as \ufffd. With
// emit == 0 it only counts, so that rotation can be decided before any
// byte of the entry is written.
static size_t json_escape(const unsigned char *s, size_t n, int emit)
{
	static const char hex[] = "0123456789abcdef";
	size_t total = 0;
	size_t i = 0;
	while (i < n) {
		// Runs of plain bytes are copied in one go.
		size_t j = i;
		while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\' && s[j] != '<' && s[j] != '>' && s[j] != '&')
			j++;
		if (j > i) {
			if (emit)
				out_put((const char *)s + i, j - i);
			total += j - i;
			i = j;
			continue;
		}
		unsigned char c = s[i];
		char esc[8];
		size_t elen = 0;
		size_t adv = 1;
		if (c < 0x80) {
			switch (c) {
			case '"':
				memcpy(esc, "\\\"", elen = 2);
				break;
			case '\\':
				memcpy(esc, "\\\\", elen = 2);
				break;
			case '\n':
				memcpy(esc, "\\n", elen = 2);
				break;
			case '\r':
				memcpy(esc, "\\r", elen = 2);
				break;
			case '\t':
				memcpy(esc, "\\t", elen = 2);
				break;
			default: // control characters and < > &
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0xF];
				elen = 6;
			}
		} else {
			long r;
			adv = utf8_next(s + i, n - i, &r);
			if (r < 0) {
				memcpy(esc, "\\ufffd", elen = 6);
			} else if (r == 0x2028 || r == 0x2029) {
				memcpy(esc, r == 0x2028 ? "\\u2028" : "\\u2029", elen = 6);
			} else {
				memcpy(esc, s + i, adv);
				elen = adv;
			}
		}
		if (emit)
			out_put(esc, elen);
		total += elen;
		i += adv;
	}
	return total;
}

// fmt_time formats ts in UTC as RFC 3339 with nanoseconds: all nine digits
// (k8s-file), or with trailing zeros trimmed and no dot when the fraction
// is zero (json-file; what Go's time.RFC3339Nano produces).
//
// The calendar date is computed here (days to civil date, the proleptic
// Gregorian algorithm also used by C++'s <chrono>) rather than by
// gmtime_r, which in glibc reads /etc/localtime and allocates on first use.
static size_t fmt_time(const struct timespec *ts, int trim, char *b)
{
	long long sec = (long long)ts->tv_sec;
	long long days = sec / 86400, rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	days += 719468; // from 1970-01-01 to 0000-03-01
	long long era = (days >= 0 ? days : days - 146096) / 146097;
	long long doe = days - era * 146097;			       // [0, 146096]
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; // [0, 399]
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	       // [0, 365]
	long long mp = (5 * doy + 2) / 153;				       // March = 0
	int day = (int)(doy - (153 * mp + 2) / 5 + 1);
	int month = (int)(mp < 10 ? mp + 3 : mp - 9);
	int year = (int)(yoe + era * 400 + (month <= 2));
	int n = snprintf(b, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld", year, month, day, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (long)ts->tv_nsec);
	if (trim) {
		while (b[n - 1] == '0')
			n--;
		if (b[n - 1] == '.')
			n--;
	}
	b[n++] = 'Z';
	b[n] = 0;
	return (size_t)n;
}

// ----------------------------------------------------------------- the log

// rotate makes room for a new entry: with one file, it empties it (as
// Docker does); otherwise P.N-2 becomes P.N-1, ..., P becomes P.1 and a new
// P is created. Readers notice by the inode of P changing.
static void rotate(void)
{
	out_flush();
	if (lg.max_file <= 1) {
		if (ftruncate(lg.fd, 0) == 0)
			lg.size = 0;
		return;
	}
	char from[PATH_MAX], to[PATH_MAX];
	for (int i = lg.max_file - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof from, "%s", lg.path);
		else
			snprintf(from, sizeof from, "%s.%d", lg.path, i - 1);
		snprintf(to, sizeof to, "%s.%d", lg.path, i);
		rename(from, to); // ENOENT for files not there yet
	}
	int fd = open(lg.path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return; // keep writing to the renamed file rather than lose lines
	close(lg.fd);
	lg.fd = fd;
	lg.size = 0;
}

// log_entry writes one entry: a full line (text ends with '\n') or a part
// of one (partial). ts is when it was read.
static void log_entry(const char *stream, const char *text, size_t n, int partial, const struct timespec *ts)
{
	if (lg.driver == DRV_NONE || lg.fd < 0)
		return;
	char tbuf[48];
	size_t tlen = fmt_time(ts, lg.driver == DRV_JSON, tbuf);
	size_t len;
	if (lg.driver == DRV_JSON) {
		len = strlen("{\"log\":\"") + json_escape((const unsigned char *)text, n, 0) + strlen("\",\"stream\":\"") + strlen(stream) + strlen("\",\"time\":\"") + tlen + strlen("\"}\n");
	} else {
		size_t body = partial ? n : n - 1; // the newline is not part of a k8s-file line's text
		len = tlen + 1 + strlen(stream) + 3 + body + 1;
	}
	if (lg.max_size > 0 && lg.size > 0 && lg.size + (long long)len > lg.max_size)
		rotate();
	if (lg.driver == DRV_JSON) {
		out_str("{\"log\":\"");
		json_escape((const unsigned char *)text, n, 1);
		out_str("\",\"stream\":\"");
		out_str(stream);
		out_str("\",\"time\":\"");
		out_put(tbuf, tlen);
		out_str("\"}\n");
	} else {
		out_put(tbuf, tlen);
		out_str(" ");
		out_str(stream);
		out_str(partial ? " P " : " F ");
		out_put(text, partial ? n : n - 1);
		out_str("\n");
	}
	// No flush here: entries collect in lg.out and go out in one write
	// per read of the container's output (read_stream), or when the
	// buffer is full. A reader may see the end of the file in the middle
	// of an entry; it reads whole lines only.
	lg.size += (long long)len;
}

// take_lines logs every complete line in s->buf and keeps the rest; a
// full buffer without a newline is logged as a partial entry.
static void take_lines(struct stream *s, const struct timespec *ts)
{
	size_t start = 0;
	for (;;) {
		char *nl = memchr(s->buf + start, '\n', s->len - start);
		if (!nl)
			break;
		size_t end = (size_t)(nl - s->buf) + 1;
		log_entry(s->name, s->buf + start, end - start, 0, ts);
		start = end;
	}
	if (start > 0) {
		memmove(s->buf, s->buf + start, s->len - start);
		s->len -= start;
	}
	if (s->len == sizeof s->buf) {
		log_entry(s->name, s->buf, s->len, 1, ts);
		s->len = 0;
	}
}

static void flush_partial(struct stream *s)
{
	if (s->len > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		log_entry(s->name, s->buf, s->len, 1, &ts);
		out_flush();
		s->len = 0;
	}
}

static void close_stream(struct stream *s)
{
	flush_partial(s);
	close(s->fd);
	s->fd = -1;
}

// read_stream reads what one readable stream has. The kernel's pipe buffer
// is 64 KiB; reading straight into the line buffer avoids a copy.
static void read_stream(struct stream *s)
{
	for (int rounds = 0; rounds < 8; rounds++) {
		ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			// EOF; or EIO, which is how a terminal's master side says
			// that the container's side is closed.
			close_stream(s);
			return;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		attach_output(s == &streams[0] ? 1 : 2, s->buf + s->len, (size_t)n);
		s->len += (size_t)n;
		take_lines(s, &ts);
		out_flush();
		if (attach_blocked())
			return; // backpressure: a client must catch up first
	}
}

// ----------------------------------------------------------- signal relay

struct dirent64_ {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

// relay_requests delivers signal requests. A CLI in another user namespace
// cannot signal a container process that runs as a non-root user (that
// user's host ID is a subordinate ID, not the CLI's), but it can signal us:
// we run as the namespace's root, the CLI's own host uid. So a CLI creates
// DIR/relay/SIG-PID-NONCE (an empty file whose name is the request: SIG
// is the decimal signal number, the rest makes the name unique), sends us
// RELAY_SIGNAL, and waits for the file to disappear, which is our
// acknowledgement. We send SIG to the container's first process and
// unlink the file; once the container has exited we unlink without
// sending, so that a request never reaches a restarted successor. Every
// file present is a pending request, so signals that were coalesced, or
// that arrived while no monitor was listening (the Go launcher ignores
// RELAY_SIGNAL), are served by the next scan; we scan at start-up too.
// Names starting with '.' are ignored (a requester's temporary files).
static void relay_requests(void)
{
	// The single-request form, DIR/relay.sig holding the decimal number
	// (written under another name and renamed into place): claim it by
	// renaming it away, so that a request renamed into place meanwhile is
	// kept for the next wakeup rather than unlinked unread. It has no
	// acknowledgement and concurrent requesters may overwrite each other;
	// the directory form has neither problem.
	if (rename(relay_file, relay_taken) == 0) {
		char b[16];
		int fd = open(relay_taken, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, b, sizeof b - 1) : -1;
		if (fd >= 0)
			close(fd);
		unlink(relay_taken);
		if (n > 0) {
			b[n] = 0;
			int sig = atoi(b);
			if (sig >= 1 && sig <= 64 && !exited)
				kill(ctr_pid, sig);
		}
	}
	int dfd = open(relay_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	// Repeat until a pass finds nothing: unlinking during getdents may
	// hide entries that come later in the same pass.
	for (int pass = 0; pass < 8; pass++) {
		int served = 0;
		lseek(dfd, 0, SEEK_SET);
		char buf[4096] __attribute__((aligned(8)));
		for (;;) {
			long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
			if (n <= 0)
				break;
			for (long off = 0; off < n;) {
				struct dirent64_ *d = (struct dirent64_ *)(buf + off);
				off += d->d_reclen;
				const char *name = d->d_name;
				if (name[0] < '0' || name[0] > '9')
					continue;
				int sig = 0;
				const char *p = name;
				while (*p >= '0' && *p <= '9' && sig < 1000)
					sig = sig * 10 + (*p++ - '0');
				if (*p == '-' && sig >= 1 && sig <= 64 && !exited)
					kill(ctr_pid, sig);
				unlinkat(dfd, name, 0);
				served++;
			}
		}
		if (!served)
			break;
	}
	close(dfd);
}

// ----------------------------------------------------------- child exits

static void reap(void)
{
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w == 0)
			return;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD && !exited) {
				// Not our child any more: nothing sensible can be
				// waited for. Report it as killed.
				exited = 1;
				exit_status = SIGKILL;
				clock_gettime(CLOCK_REALTIME, &finished);
			}
			return;
		}
		if (w == health.pid && health.pid > 0) {
			health.pid = 0;
			health_done(st);
			continue;
		}
		// As a child subreaper we also collect orphans of the
		// container (without a pid namespace); only its first process
		// matters.
		if (w == ctr_pid && !exited) {
			exited = 1;
			exit_status = st;
			clock_gettime(CLOCK_REALTIME, &finished);
		}
	}
}

// write_exit_file records the exit before anything that can fail (the
// execve back into Go, or the Go launcher itself): a later cove command
// that finds the container's process gone reads the code from here
// (engine.ReadExitFile) instead of guessing, and `stop` takes it from here
// rather than waiting for the launcher. Same-directory rename, so a reader
// sees no file or a whole one, also after kill -9 of anyone. No fsync: it
// took 1-5 ms of every container exit, on stop's path; after a power loss
// (not a kill) the file may be empty, which ReadExitFile rejects, and the
// state then says the process disappeared instead of giving its code.
static void write_exit_file(void)
{
	char tmp[PATH_MAX], path[PATH_MAX], line[128];
	snprintf(tmp, sizeof tmp, "%s/.exit.tmp", ctr_dir);
	snprintf(path, sizeof path, "%s/exit", ctr_dir);
	int n;
	if (WIFSIGNALED(exit_status))
		n = snprintf(line, sizeof line, "%d signaled %d %lld.%09ld\n", (int)ctr_pid, WTERMSIG(exit_status), (long long)finished.tv_sec, (long)finished.tv_nsec);
	else
		n = snprintf(line, sizeof line, "%d exited %d %lld.%09ld\n", (int)ctr_pid, WEXITSTATUS(exit_status), (long long)finished.tv_sec, (long)finished.tv_nsec);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	write_all(fd, line, (size_t)n);
	close(fd);
	rename(tmp, path);
}

// ----------------------------------------------------------- healthchecks
//
// The monitor keeps the schedule; a probe is a short-lived Go process,
// this binary as "cove-health ID PID" (engine.HealthMain), which runs the
// healthcheck command in the container through the exec path, enforces
// the timeout, records the result in the container's state under its lock
// and exits with the resulting status. Keeping the Go runtime out of this
// process keeps the monitor at its few hundred kilobytes; a probe costs
// one Go start-up, as Podman's `podman healthcheck run` per timer does.
//
// Docker's schedule: the first probe one interval after the start, the
// next one interval after the previous one finished; while the container
// is still "starting" within its start period, the start interval instead.
// One probe at a time.

static long long health_delay(void)
{
	if (health.status == HEALTH_STARTING && now_ms() - health.started < health.start_period)
		return health.start_interval;
	return health.interval;
}

// health_done handles the helper's exit (wait status st).
static void health_done(int st)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) <= HEALTH_STARTING)
		health.status = WEXITSTATUS(st);
	health.next = now_ms() + health_delay();
}

// health_spawn starts a probe. The helper gets a clean signal state (the
// Go runtime installs its own handlers, but a blocked mask and SIG_IGN
// survive execve), our environment (the launcher's configuration is in
// it), /dev/null as stdio (ours), and none of our other descriptors (all
// close-on-exec). It dies with us: a probe must not outlive its monitor.
static void health_spawn(void)
{
	pid_t self = getpid();
	pid_t p = fork();
	if (p < 0) {
		health.next = now_ms() + health.interval;
		return;
	}
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != self)
			_exit(HEALTH_SKIPPED); // the monitor died before the prctl
		signal(SIGPIPE, SIG_DFL);
		signal(RELAY_SIGNAL, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		char pidbuf[16];
		snprintf(pidbuf, sizeof pidbuf, "%d", (int)ctr_pid);
		char *argv[] = {HEALTH_ROLE, (char *)ctr_id, pidbuf, NULL};
		execve("/proc/self/exe", argv, environ);
		_exit(HEALTH_SKIPPED);
	}
	health.pid = p;
	health.probe_started = now_ms();
}

// health_tick starts a due probe or kills a stuck one, and returns how
// long poll may sleep before the next tick (-1: no healthcheck).
static int health_tick(void)
{
	if (health.interval <= 0 || exited)
		return -1;
	long long now = now_ms(), due;
	if (health.pid > 0) {
		due = health.probe_started + health.timeout + HEALTH_GRACE_MS;
		if (now >= due) {
			kill(health.pid, SIGKILL); // reaped through SIGCHLD
			return 100;
		}
	} else {
		if (now >= health.next) {
			health_spawn();
			return health_tick();
		}
		due = health.next;
	}
	long long d = due - now;
	return d > INT_MAX ? INT_MAX : (int)d;
}

// health_stop ends a probe still running when the container has exited:
// its result would be dropped anyway (the container is not the run it
// probed), and the launcher we exec must not inherit it.
static void health_stop(void)
{
	if (health.pid <= 0)
		return;
	kill(health.pid, SIGKILL);
	while (waitpid(health.pid, NULL, 0) < 0 && errno == EINTR)
		;
	health.pid = 0;
}

// ----------------------------------------------------------------- attach
//
// `cove attach` (and `start -a`) connect to DIR/attach, a SOCK_SEQPACKET
// socket we listen on: message boundaries for free, so every packet is one
// byte of type and its payload, with no framing to parse.
//
//	to clients    ATT_STDOUT/ATT_STDERR + the bytes as read from the
//	              container (a terminal's output is stdout), and last
//	              ATT_EXIT + the decimal exit code (128+N for signal N);
//	              ATT_BUSY alone to a client beyond ATTACH_MAX, then EOF;
//	              ATT_DROPPED + the decimal seconds of the safety valve,
//	              then EOF, to a client that stopped reading (see below)
//	from clients  ATT_STDIN + bytes for the container's stdin (-i);
//	              ATT_STDIN_EOF alone: the client's input has ended;
//	              ATT_RESIZE + "ROWS COLS" for its terminal (-t)
//
// Output goes to every client (at most ATTACH_MAX) as well as to the log,
// with backpressure, as Docker does: no client ever misses output. A
// client whose socket holds more than half its send buffer unread is
// "full", and while any client is full we read nothing of the container's
// output, so the container blocks in write(2) when its pipe or terminal
// fills, instead of a slow reader being disconnected. The kernel's
// POLLOUT (at most a quarter of the buffer in use) resumes the reading.
// Stopping at half rather than at the brim keeps room for the exit packet
// and the ATT_DROPPED notice, so they need not wait. A send that does
// not fit anyway (a tiny buffer) keeps the packet in one pending buffer,
// shared by every client that owes it: nothing more is read until all have
// taken it. The safety valve: a client that is full and takes nothing for
// attach_stall_ms (60 s) is sent ATT_DROPPED and disconnected, so that a
// client stopped for good (^Z, a pipe nobody reads) cannot hold the
// container forever; the client says so rather than report an exit.
//
// Input is written without blocking too; what the container's stdin does
// not take yet waits in one buffer, and clients are not read until it has
// drained, so a fast client is slowed to the container's pace rather than
// losing bytes. ATT_STDIN_EOF (the end of a client's input; `attach` and
// `start -ai` send it for a container with Docker's StdinOnce) closes the
// container's stdin pipe (-i
// without -t; with a terminal, the end of input is the user's ^D, a byte
// like any other), so `echo x | cove start -ai C` ends; input read after
// it has nowhere to go. The detach keys are the
// client's business: it simply disconnects, and the container runs on.

#define ATTACH_MAX 8
enum { ATT_STDIN = 0, ATT_STDOUT = 1, ATT_STDERR = 2, ATT_EXIT = 3, ATT_RESIZE = 4, ATT_BUSY = 5, ATT_STDIN_EOF = 6, ATT_DROPPED = 7 };

// The safety valve (see above); COVE_ATTACH_STALL_MS overrides it, for the
// tests, which cannot wait a minute.
#define ATTACH_STALL_MS 60000
// How often a full client's progress is looked at (SIOCOUTQ).
#define ATTACH_STALL_CHECK_MS 1000

static int attach_fd = -1;	    // the listening socket
static int clients[ATTACH_MAX];	    // connected clients, -1 for free slots
static int console_fd = -1;	    // for resizes
static long long attach_wait_until; // --attach-wait deadline, 0 when not waiting
static long long attach_stall_ms = ATTACH_STALL_MS;
static char in_buf[LINE_MAX_BYTES + 1];
static size_t in_len, in_off; // stdin bytes accepted but not yet written

// Backpressure state of each client (see above).
static struct {
	int sndbuf;		// its send buffer's size in bytes, as the kernel counts
	int full;		// more than half of it is unread: output waits
	int owes;		// it has yet to take the pending packet
	int outq;		// bytes unread at the last progress
	long long stall_since;	// when it last made progress while full
} cl[ATTACH_MAX];
// The packet some full clients have yet to take: type byte and payload.
static char pend_buf[LINE_MAX_BYTES + 1];
static size_t pend_len;

// attach_path formats the socket's path through /proc/self/fd/DIRFD: a
// sockaddr_un holds 108 bytes, and a container's directory under a home
// directory is longer than that.
static int attach_path(struct sockaddr_un *sa, int dfd)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	return snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/attach", dfd) < (int)sizeof sa->sun_path;
}

static void attach_listen(void)
{
	for (int i = 0; i < ATTACH_MAX; i++)
		clients[i] = -1;
	int dfd = open(ctr_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0 && attach_path(&sa, dfd)) {
		// A socket left by an earlier monitor of this container (its
		// run ended, or it was killed) is in the way.
		unlinkat(dfd, "attach", 0);
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, ATTACH_MAX) == 0) {
			attach_fd = fd;
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	close(dfd);
}

static void attach_drop(int i)
{
	close(clients[i]);
	clients[i] = -1;
	cl[i].full = cl[i].owes = 0;
	int owed = 0;
	for (int j = 0; j < ATTACH_MAX; j++)
		owed |= cl[j].owes;
	if (!owed)
		pend_len = 0;
}

static int attach_clients(void)
{
	int n = 0;
	for (int i = 0; i < ATTACH_MAX; i++)
		n += clients[i] >= 0;
	return n;
}

// attach_blocked says whether some client is full: the container's output
// is not read until none is.
static int attach_blocked(void)
{
	for (int i = 0; i < ATTACH_MAX; i++)
		if (clients[i] >= 0 && cl[i].full)
			return 1;
	return 0;
}

// attach_owed says whether a client has yet to take the pending packet.
static int attach_owed(void)
{
	for (int i = 0; i < ATTACH_MAX; i++)
		if (clients[i] >= 0 && cl[i].owes)
			return 1;
	return 0;
}

// attach_unread is how much of client i's send buffer its reader has not
// taken yet (SIOCOUTQ: for a unix socket, the memory the kernel charges to
// the sender until the receiver has read the packets).
static int attach_unread(int i)
{
	int q = 0;
	if (ioctl(clients[i], SIOCOUTQ, &q) < 0)
		return 0;
	return q;
}

static void attach_accept(void)
{
	for (;;) {
		int c = accept4(attach_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0)
			return;
		int slot = -1;
		for (int i = 0; i < ATTACH_MAX && slot < 0; i++)
			if (clients[i] < 0)
				slot = i;
		if (slot < 0) {
			// Too many: say so, rather than leave the client to
			// guess at a bare EOF.
			unsigned char busy = ATT_BUSY;
			send(c, &busy, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			close(c);
			continue;
		}
		// The kernel caps the request at net.core.wmem_max and doubles
		// it for its bookkeeping; the value read back is what the
		// unread bytes (SIOCOUTQ) are measured against.
		int sz = 1 << 20;
		socklen_t len = sizeof sz;
		setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
		if (getsockopt(c, SOL_SOCKET, SO_SNDBUF, &sz, &len) < 0)
			sz = 1 << 20;
		clients[slot] = c;
		cl[slot].sndbuf = sz;
		cl[slot].full = cl[slot].owes = 0;
		attach_wait_until = 0;
	}
}

// attach_send sends one packet to client i without blocking: 1 if it was
// sent, 0 if the socket has no room (EAGAIN), -1 if the client is gone
// (dropped here).
static int attach_send(int i, int type, const char *p, size_t n)
{
	unsigned char t = (unsigned char)type;
	struct iovec iov[2] = {{&t, 1}, {(void *)p, n}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	for (;;) {
		if (sendmsg(clients[i], &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		attach_drop(i);
		return -1;
	}
}

// attach_check_full marks client i full if more than half of its buffer is
// unread; its progress is measured from now.
static void attach_check_full(int i)
{
	int q = attach_unread(i);
	if (q > cl[i].sndbuf / 2) {
		if (!cl[i].full)
			cl[i].stall_since = now_ms();
		cl[i].full = 1;
		cl[i].outq = q;
	}
}

static void attach_output(int stream, const char *p, size_t n)
{
	for (int i = 0; i < ATTACH_MAX; i++) {
		if (clients[i] < 0)
			continue;
		int r = attach_send(i, stream, p, n);
		if (r > 0) {
			attach_check_full(i);
		} else if (r == 0) {
			// No room even below the half mark (a tiny buffer): the
			// packet waits here. Every client that misses it misses
			// this same packet, since nothing more is read meanwhile.
			if (pend_len == 0) {
				pend_buf[0] = (char)stream;
				memcpy(pend_buf + 1, p, n);
				pend_len = n + 1;
			}
			cl[i].owes = cl[i].full = 1;
			cl[i].stall_since = now_ms();
			cl[i].outq = attach_unread(i);
		}
	}
}

// attach_flush is client i's POLLOUT: it sends the pending packet it owes,
// and it is no longer full once at most half its buffer is unread.
static void attach_flush(int i)
{
	if (cl[i].owes) {
		int r = attach_send(i, (unsigned char)pend_buf[0], pend_buf + 1, pend_len - 1);
		if (r < 0)
			return; // dropped
		if (r == 0)
			return;
		cl[i].owes = 0;
		if (!attach_owed())
			pend_len = 0;
	}
	int q = attach_unread(i);
	if (q <= cl[i].sndbuf / 2)
		cl[i].full = 0;
	else if (q < cl[i].outq) {
		cl[i].outq = q;
		cl[i].stall_since = now_ms();
	}
}

// attach_check_stalls applies the safety valve: a full client that has
// read nothing for attach_stall_ms is told so (there is room: see above)
// and disconnected. Returns how long poll may sleep before the next check
// (-1: no client is full).
static int attach_check_stalls(void)
{
	int any = 0;
	long long now = now_ms();
	for (int i = 0; i < ATTACH_MAX; i++) {
		if (clients[i] < 0 || !cl[i].full)
			continue;
		int q = attach_unread(i);
		if (q < cl[i].outq) {
			// It reads, slowly: the clock starts again.
			cl[i].outq = q;
			cl[i].stall_since = now;
		} else if (now - cl[i].stall_since >= attach_stall_ms) {
			char secs[24];
			int n = snprintf(secs, sizeof secs, "%lld", attach_stall_ms / 1000);
			if (attach_send(i, ATT_DROPPED, secs, (size_t)n) >= 0)
				attach_drop(i);
			continue;
		}
		any = 1;
	}
	if (!any)
		return -1;
	return ATTACH_STALL_CHECK_MS;
}

// attach_write_stdin writes pending input to the container's stdin, as far
// as it takes it now.
static void attach_write_stdin(void)
{
	while (in_off < in_len) {
		ssize_t w = write(stdin_fd, in_buf + in_off, in_len - in_off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			// The container closed its stdin: input is dropped.
			break;
		}
		in_off += (size_t)w;
	}
	in_len = in_off = 0;
}

static void attach_input(int i)
{
	for (int rounds = 0; rounds < 8 && in_len == 0 && clients[i] >= 0; rounds++) {
		// One byte short of the buffer: a resize is terminated in place.
		ssize_t n = recv(clients[i], in_buf, sizeof in_buf - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			attach_drop(i); // the client went away (detached)
			return;
		}
		if (in_buf[0] == ATT_STDIN && n > 1 && stdin_fd >= 0 && !exited) {
			in_off = 1;
			in_len = (size_t)n;
			attach_write_stdin();
		} else if (in_buf[0] == ATT_STDIN_EOF && stdin_fd >= 0 && console_fd < 0) {
			// The end of the client's input is the end of the
			// container's: its read(2) returns 0 once every byte
			// before it is read (clients are not read while input
			// waits, so all of it has been written). Only the pipe
			// of -i without -t: a terminal's master is also its
			// output.
			close(stdin_fd);
			stdin_fd = -1;
		} else if (in_buf[0] == ATT_RESIZE && console_fd >= 0) {
			in_buf[n] = 0;
			struct winsize ws = {0};
			unsigned rows, cols;
			if (sscanf(in_buf + 1, "%u %u", &rows, &cols) == 2 && rows > 0 && cols > 0 && rows < 65536 && cols < 65536) {
				ws.ws_row = (unsigned short)rows;
				ws.ws_col = (unsigned short)cols;
				ioctl(console_fd, TIOCSWINSZ, &ws);
			}
		}
	}
}

// attach_close tells every client how the container ended and disconnects
// them; the socket goes, so that nobody connects to a monitor that is
// about to be the launcher.
static void attach_close(void)
{
	char code[16];
	int n = snprintf(code, sizeof code, "%d", WIFSIGNALED(exit_status) ? 128 + WTERMSIG(exit_status) : WEXITSTATUS(exit_status));
	for (int i = 0; i < ATTACH_MAX; i++)
		if (clients[i] >= 0) {
			attach_send(i, ATT_EXIT, code, (size_t)n);
			if (clients[i] >= 0)
				attach_drop(i);
		}
	if (attach_fd >= 0) {
		int dfd = open(ctr_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			unlinkat(dfd, "attach", 0);
			close(dfd);
		}
		close(attach_fd);
		attach_fd = -1;
	}
}

// --------------------------------------------------------------- helpers

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_fd(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	return (*s && !*end && v >= 0 && v < INT_MAX) ? (int)v : -1;
}

// close_other_fds closes every descriptor but 0-2 and the listed ones. The
// launcher opens everything close-on-exec, but a descriptor inherited by
// accident (from the CLI, from a library) would otherwise stay open for the
// container's whole life: a terminal kept open, a lock never released.
static void close_other_fds(int *keep, int nkeep)
{
	// Sort the few descriptors to keep, then close the gaps between them.
	for (int i = 1; i < nkeep; i++)
		for (int j = i; j > 0 && keep[j] < keep[j - 1]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	unsigned int lo = 3;
	for (int i = 0; i <= nkeep; i++) {
		unsigned int hi = i < nkeep ? (unsigned int)keep[i] : ~0U;
		if (i < nkeep && keep[i] < 3)
			continue;
		if (hi > lo) {
			if (syscall(SYS_close_range, lo, hi - 1, 0) < 0) {
				// Before Linux 5.9: close them one by one.
				unsigned int top = hi == ~0U ? 4096 : hi;
				for (unsigned int fd = lo; fd < top; fd++)
					close((int)fd);
			}
		}
		if (i < nkeep)
			lo = (unsigned int)keep[i] + 1;
	}
}

// back_to_launcher execs the Go launcher with the exit, keeping our PID.
static void back_to_launcher(void)
{
	char code[16], pidbuf[16], fin[48];
	const char *kind = WIFSIGNALED(exit_status) ? "--signaled" : "--exited";
	snprintf(code, sizeof code, "%d", WIFSIGNALED(exit_status) ? WTERMSIG(exit_status) : WEXITSTATUS(exit_status));
	snprintf(pidbuf, sizeof pidbuf, "%d", (int)ctr_pid);
	snprintf(fin, sizeof fin, "%lld.%09ld", (long long)finished.tv_sec, (long)finished.tv_nsec);
	char *argv[] = {LAUNCH_ROLE, (char *)kind, code, "--pid", pidbuf, "--finished", fin, "--backoff", (char *)backoff, (char *)ctr_id, NULL};
	// Hand the Go program a clean signal state: the container it may
	// start inherits dispositions and the mask through Go's fork. The
	// relay signal goes to SIG_IGN *before* it is unblocked: SIG_IGN
	// discards a pending one (the request files stay, and the next
	// monitor serves them), where SIG_DFL would kill us. Go's runtime
	// later installs its own handler for it, which ignores it.
	signal(SIGPIPE, SIG_DFL);
	signal(RELAY_SIGNAL, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve("/proc/self/exe", argv, environ);
	// The exit file is written: the next cove command records the exit
	// from it. The restart policy is lost, which is all we can do.
	_exit(125);
}

// ----------------------------------------------------------------- main

static void monitor_main(int argc, char **argv)
{
	const char *log_path = NULL, *driver = "json-file";
	int out_fd = -1, err_fd = -1;
	long long attach_wait = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--id"))
			ctr_id = v;
		else if (!strcmp(k, "--dir"))
			ctr_dir = v;
		else if (!strcmp(k, "--pid"))
			ctr_pid = (pid_t)parse_fd(v);
		else if (!strcmp(k, "--log-driver"))
			driver = v;
		else if (!strcmp(k, "--log-path"))
			log_path = v;
		else if (!strcmp(k, "--log-max-size"))
			lg.max_size = atoll(v);
		else if (!strcmp(k, "--log-max-file"))
			lg.max_file = atoi(v);
		else if (!strcmp(k, "--stdout"))
			out_fd = parse_fd(v);
		else if (!strcmp(k, "--stderr"))
			err_fd = parse_fd(v);
		else if (!strcmp(k, "--console"))
			console_fd = parse_fd(v);
		else if (!strcmp(k, "--stdin"))
			stdin_fd = parse_fd(v);
		else if (!strcmp(k, "--backoff"))
			backoff = v;
		else if (!strcmp(k, "--health-interval"))
			health.interval = atoll(v);
		else if (!strcmp(k, "--health-timeout"))
			health.timeout = atoll(v);
		else if (!strcmp(k, "--health-start-period"))
			health.start_period = atoll(v);
		else if (!strcmp(k, "--health-start-interval"))
			health.start_interval = atoll(v);
		else if (!strcmp(k, "--attach-wait"))
			attach_wait = atoll(v);
	}
	if (!ctr_id || !ctr_dir || ctr_pid <= 0) {
		// Called by hand, or a launcher of another version: without a
		// container there is nothing to supervise. Our death takes the
		// container with it (parent-death signal), and cove commands
		// then see it as exited.
		_exit(125);
	}
	prctl(PR_SET_NAME, MONITOR_ROLE, 0, 0, 0);

	// Signals first, before anything can be missed. Block SIGCHLD and the
	// relay signal and read them from a signalfd. The launcher set the
	// relay signal to SIG_IGN across the execve so that one arriving in
	// between could not kill us (its default action is to terminate);
	// once it is blocked, the default disposition is safe again and must
	// be restored: an ignored signal is discarded, never queued for the
	// signalfd.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, RELAY_SIGNAL);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(RELAY_SIGNAL, SIG_DFL);
	// Writing to the container's stdin after it has closed it must give
	// EPIPE, not kill us.
	signal(SIGPIPE, SIG_IGN);

	// Descriptors: keep only the container's streams. stdio becomes
	// /dev/null: the launcher was started with it already, but the
	// monitor must never hold the terminal of the CLI that started it.
	int keep[4], nkeep = 0;
	if (out_fd >= 0)
		keep[nkeep++] = out_fd;
	if (err_fd >= 0)
		keep[nkeep++] = err_fd;
	if (console_fd >= 0)
		keep[nkeep++] = console_fd;
	if (stdin_fd >= 0 && stdin_fd != console_fd)
		keep[nkeep++] = stdin_fd;
	close_other_fds(keep, nkeep);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		for (int fd = 0; fd < 3; fd++)
			if (fd != null)
				dup2(null, fd); // dup2 clears close-on-exec: stdio stays stdio
		if (null > 2)
			close(null);
	}
	// Close-on-exec for all we keep: nothing of this container's run may
	// leak into the launcher (which starts the next run with new pipes),
	// and non-blocking reads, so that one stream never starves the loop.
	for (int i = 0; i < nkeep; i++)
		fcntl(keep[i], F_SETFD, FD_CLOEXEC);
	if (console_fd >= 0)
		out_fd = console_fd; // a terminal merges both streams: stdout
	streams[0].fd = out_fd;
	streams[0].name = "stdout";
	streams[1].fd = err_fd;
	streams[1].name = "stderr";
	for (int i = 0; i < 2; i++)
		if (streams[i].fd >= 0)
			fcntl(streams[i].fd, F_SETFL, fcntl(streams[i].fd, F_GETFL) | O_NONBLOCK);
	// Attach input is written without blocking (see "Attach").
	if (stdin_fd >= 0)
		fcntl(stdin_fd, F_SETFL, fcntl(stdin_fd, F_GETFL) | O_NONBLOCK);
	attach_listen();
	const char *stall = getenv("COVE_ATTACH_STALL_MS");
	if (stall && atoll(stall) > 0)
		attach_stall_ms = atoll(stall);
	if (attach_wait > 0)
		attach_wait_until = now_ms() + attach_wait;

	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	snprintf(relay_dir, sizeof relay_dir, "%s/relay", ctr_dir);
	snprintf(relay_file, sizeof relay_file, "%s/relay.sig", ctr_dir);
	snprintf(relay_taken, sizeof relay_taken, "%s/.relay.sig.taken", ctr_dir);

	if (!strcmp(driver, "json-file"))
		lg.driver = DRV_JSON;
	else if (!strcmp(driver, "k8s-file"))
		lg.driver = DRV_K8S;
	else
		lg.driver = DRV_NONE;
	if (lg.driver != DRV_NONE && log_path) {
		lg.path = log_path;
		lg.fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		struct stat st;
		if (lg.fd >= 0 && fstat(lg.fd, &st) == 0)
			lg.size = st.st_size;
	}

	// What happened before we listened: a request whose wakeup the
	// launcher ignored, a container that already exited.
	reap();
	relay_requests();

	if (health.interval > 0) {
		if (health.start_interval <= 0)
			health.start_interval = health.interval;
		health.started = now_ms();
		health.status = HEALTH_STARTING;
		health.next = health.started + health_delay();
	}

	long long drain_start = 0, last_data = 0, drain_tick = 0;
	int drain_blocked = 0;
	for (;;) {
		int timeout = -1;
		// start -a: the output waits in its pipe for the first client.
		int waiting = 0;
		if (attach_wait_until > 0) {
			long long left = attach_wait_until - now_ms();
			if (left > 0 && attach_clients() == 0) {
				waiting = 1;
				timeout = left > INT_MAX ? INT_MAX : (int)left;
			} else {
				attach_wait_until = 0;
			}
		}
		// Backpressure (see "Attach"): while a client is full, the
		// container's output waits in its pipes.
		int blocked = attach_blocked();
		if (exited && !waiting) {
			long long now = now_ms();
			if (!drain_start)
				drain_start = last_data = drain_tick = now;
			// The drain's clocks stop while a client catches up: the
			// output left in the pipes is not lost to a slow reader.
			if (drain_blocked) {
				drain_start += now - drain_tick;
				last_data += now - drain_tick;
			}
			drain_tick = now;
			drain_blocked = blocked;
			if (streams[0].fd < 0 && streams[1].fd < 0 && !attach_owed())
				break; // all read and sent: the exit packet has room
			if (!blocked && (now - drain_start >= DRAIN_MAX_MS || now - last_data >= DRAIN_IDLE_MS))
				break;
			timeout = blocked ? -1 : DRAIN_IDLE_MS - (int)(now - last_data);
		}
		int st = attach_check_stalls();
		if (st >= 0 && (timeout < 0 || st < timeout))
			timeout = st;
		// idx: -1 the signalfd, 0 and 1 the streams, 2 the attach
		// socket, 3 the stdin's room, 10+i client i.
		struct pollfd p[5 + ATTACH_MAX];
		int np = 0, idx[5 + ATTACH_MAX];
		if (sfd >= 0) {
			p[np].fd = sfd;
			p[np].events = POLLIN;
			idx[np++] = -1;
		}
		for (int i = 0; i < 2 && !waiting && !blocked; i++)
			if (streams[i].fd >= 0) {
				p[np].fd = streams[i].fd;
				p[np].events = POLLIN;
				idx[np++] = i;
			}
		if (attach_fd >= 0 && (!exited || waiting)) {
			p[np].fd = attach_fd;
			p[np].events = POLLIN;
			idx[np++] = 2;
		}
		if (in_len > 0) {
			p[np].fd = stdin_fd;
			p[np].events = POLLOUT;
			idx[np++] = 3;
		}
		for (int i = 0; i < ATTACH_MAX; i++) {
			short ev = (in_len == 0 ? POLLIN : 0) | (cl[i].full ? POLLOUT : 0);
			if (clients[i] >= 0 && ev) {
				p[np].fd = clients[i];
				p[np].events = ev;
				idx[np++] = 10 + i;
			}
		}
		if (sfd < 0 && !exited) {
			// No signalfd (out of descriptors?): poll for the exit.
			timeout = 100;
			reap();
		}
		int ht = health_tick();
		if (ht >= 0 && (timeout < 0 || ht < timeout))
			timeout = ht;
		int r = poll(p, (nfds_t)np, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break; // cannot happen with valid descriptors
		}
		for (int k = 0; k < np; k++) {
			if (!p[k].revents)
				continue;
			if (idx[k] < 0) {
				struct signalfd_siginfo si;
				int relay = 0, chld = 0;
				while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
					if ((int)si.ssi_signo == RELAY_SIGNAL)
						relay = 1;
					else if (si.ssi_signo == SIGCHLD)
						chld = 1;
				}
				// Reap first: a request that arrives with the exit
				// must not be sent to a PID that is being reused.
				if (chld)
					reap();
				if (relay)
					relay_requests();
			} else if (idx[k] == 2) {
				attach_accept();
			} else if (idx[k] == 3) {
				attach_write_stdin();
			} else if (idx[k] >= 10) {
				int i = idx[k] - 10;
				if (clients[i] >= 0 && cl[i].full && (p[k].revents & (POLLOUT | POLLHUP | POLLERR)))
					attach_flush(i);
				if (clients[i] >= 0 && (p[k].events & POLLIN) && (p[k].revents & (POLLIN | POLLHUP | POLLERR)))
					attach_input(i);
			} else {
				read_stream(&streams[idx[k]]);
				last_data = now_ms();
			}
		}
	}

	// The container is gone and its output read: finish the log, record
	// the exit, and let the Go launcher decide what comes next.
	for (int i = 0; i < 2; i++)
		if (streams[i].fd >= 0)
			close_stream(&streams[i]);
	out_flush();
	if (lg.fd >= 0)
		close(lg.fd);
	write_exit_file();
	attach_close();
	health_stop();
	if (sfd >= 0)
		close(sfd);
	back_to_launcher();
}

__attribute__((constructor)) static void cove_monitor_entry(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc < 1 || !argv[0] || strcmp(argv[0], MONITOR_ROLE) != 0)
		return;
	monitor_main(argc, argv);
	_exit(125); // not reached
}

// cove_monitor_format_for_test runs one entry through the real writer into
// a memory file and copies the bytes out: the Go tests compare them with
// the Go writer's. Not used by the monitor itself.
long cove_monitor_format_for_test(int driver, const char *stream, const char *text, long n, int partial, long long sec, long nsec, char *out, long cap)
{
	int fd = memfd_create("cove-monitor-test", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	lg.driver = driver;
	lg.fd = fd;
	lg.size = 0;
	lg.max_size = 0;
	lg.olen = 0;
	struct timespec ts = {.tv_sec = (time_t)sec, .tv_nsec = nsec};
	log_entry(stream, text, (size_t)n, partial, &ts);
	out_flush();
	long got = pread(fd, out, (size_t)cap, 0);
	close(fd);
	lg.fd = -1;
	return got;
}
