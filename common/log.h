/*
 * log.h - leveled logging to stderr, a file and/or syslog.
 *
 * Owns: the process's log destination and level. This is the one piece of
 * process-wide state outside a context struct (as Postfix's msg.c): every
 * module logs, and threading a logger through each call would buy nothing.
 * Set up once by log_open() before any other thread exists.
 *
 * Levels, as STYLE.md: warn for a peer's bad input (log, end that call or
 * request, go on); fatal for a broken environment at start-up (exit 1);
 * panic for a broken invariant of our own (abort, core dump).
 * Every line names a stage ("sup", "worker", "call", ...) and, when there is
 * one, the call UUID. Nothing here may be called from a signal handler.
 */
#ifndef VG_LOG_H
#define VG_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Parses "error", "warn", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *name);

/*
 * ident: program name in each line. file: NULL or "" for stderr, else a
 * path opened O_APPEND. use_syslog: also send to syslog(3).
 * Returns 0 or -errno (the file could not be opened; stderr stays in use).
 * -EMLINK: the path is a symbolic link, not a regular file, or a file
 * with more than one name; it is never written.
 */
int log_open(const char *ident, const char *file, bool use_syslog, int level);

/* Reopen the log file after rotation (SIGUSR1). 0 or -errno. */
int log_reopen(void);

void log_set_level(int level);
bool log_enabled(int level);

/* The stderr/file descriptor in use (-1: syslog only), kept across fork. */
int log_fd(void);

/*
 * In a forked child, before it closes inherited descriptors: drops the
 * syslog connection so that its descriptor number cannot be reused under
 * it; the next syslog line reconnects.
 */
void log_after_fork(void);

void log_msg(int level, const char *stage, const char *uuid,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_error(stage, uuid, ...) log_msg(LOG_LVL_ERROR, stage, uuid, __VA_ARGS__)
#define log_warn(stage, uuid, ...)  log_msg(LOG_LVL_WARN, stage, uuid, __VA_ARGS__)
#define log_info(stage, uuid, ...)  log_msg(LOG_LVL_INFO, stage, uuid, __VA_ARGS__)
#define log_debug(stage, uuid, ...) \
	do { if (log_enabled(LOG_LVL_DEBUG)) \
		log_msg(LOG_LVL_DEBUG, stage, uuid, __VA_ARGS__); } while (0)

/* Broken environment at start-up: log and exit(1). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Our own invariant is broken: log and abort() for a core dump. */
void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
