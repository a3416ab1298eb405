/*
 * log.c - leveled logging to stderr, a file and/or syslog.
 *
 * One line per message, written with a single write(2) on an O_APPEND
 * descriptor so that lines from the supervisor and all workers sharing the
 * file never interleave mid-line. Never allocates; a line longer than the
 * buffer is cut, not dropped.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static struct {
	char ident[32];
	char path[4096];	/* empty: stderr */
	int fd;
	int level;
	bool use_syslog;
} lg = { "vagent", "", 2, LOG_LVL_INFO, false };

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

/*
 * The log's directory may belong to the service user while we still run
 * as root: never follow a link there, never block on a FIFO planted there,
 * and write only to a regular file that has no other name (a hard link to
 * a file of root's would be one).
 */
static int open_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
		      O_NOCTTY | O_CLOEXEC, 0640);

	if (fd < 0)	/* ENXIO: a FIFO with no reader, or a socket */
		return errno == ELOOP || errno == ENXIO ? -EMLINK : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		return -EMLINK;
	}
	fcntl(fd, F_SETFL, O_WRONLY | O_APPEND);	/* back to blocking writes */
	return fd;
}

int log_open(const char *ident, const char *file, bool use_syslog, int level)
{
	snprintf(lg.ident, sizeof(lg.ident), "%s", ident);
	lg.level = level;
	if (use_syslog && !lg.use_syslog)
		openlog(lg.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	lg.use_syslog = use_syslog;
	if (!file || !*file) {
		if (lg.fd > 2)
			close(lg.fd);
		lg.path[0] = '\0';
		/* syslog alone: under systemd stderr would log every line twice. */
		lg.fd = use_syslog ? -1 : 2;
		return 0;
	}
	int fd = open_file(file);
	if (fd < 0)
		return fd;
	if (lg.fd > 2)
		close(lg.fd);
	lg.fd = fd;
	snprintf(lg.path, sizeof(lg.path), "%s", file);
	return 0;
}

int log_reopen(void)
{
	if (!lg.path[0])
		return 0;
	int fd = open_file(lg.path);
	if (fd < 0)
		return fd;
	/* dup2 keeps the descriptor number stable for anyone holding it. */
	if (dup2(fd, lg.fd) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	close(fd);
	return 0;
}

void log_set_level(int level) { lg.level = level; }
bool log_enabled(int level) { return level <= lg.level; }
int log_fd(void) { return lg.fd; }

void log_after_fork(void)
{
	if (lg.use_syslog) {
		closelog();
		openlog(lg.ident, LOG_PID, LOG_DAEMON);	/* connects lazily */
	}
}

static void emit(int level, const char *stage, const char *uuid, bool to_stderr,
		 const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = 0;
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n += strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%d] %s ",
		      ts.tv_nsec / 1000000, lg.ident, (int)getpid(),
		      level_names[level]);
	size_t stage_off = n;	/* syslog adds its own stamp and ident */
	n += snprintf(line + n, sizeof(line) - n, "%s: ", stage ? stage : "-");
	if (uuid && *uuid && n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, "call %s: ", uuid);
	if (n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	line[n] = '\0';

	/* One write per line: O_APPEND makes it atomic against other writers. */
	if (lg.fd >= 0 && write(lg.fd, line, n) < 0) {
		/* Nowhere left to report it. */
	}
	/* Whoever started us must see why we could not start. */
	if (to_stderr && lg.fd != 2 && write(2, line, n) < 0) {
	}
	if (lg.use_syslog) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
		syslog(prio[level], "%.*s", (int)(n - 1 - stage_off), line + stage_off);
	}
}

void log_msg(int level, const char *stage, const char *uuid, const char *fmt, ...)
{
	va_list ap;

	if (level > lg.level)
		return;
	va_start(ap, fmt);
	emit(level, stage, uuid, false, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_LVL_ERROR, "fatal", NULL, true, fmt, ap);
	va_end(ap);
	exit(1);
}

void panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_LVL_ERROR, "panic", NULL, true, fmt, ap);
	va_end(ap);
	abort();
}
