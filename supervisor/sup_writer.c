/*
 * sup_writer.c - the supervisor's booking-writer child: start it, restart
 * it when it dies, stop it last.
 *
 * The writer starts with the supervisor and runs until every worker is
 * gone at shutdown: only then does it get SIGTERM, so the last call's
 * records are journaled. A writer that keeps dying is restarted with a
 * growing delay; records wait safely in their queues meanwhile (a producer
 * only fails once its queue is full).
 */
#include "sup.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "bw.h"

#define WRITER_BACKOFF_MIN_MS 100
#define WRITER_BACKOFF_MAX_MS 10000
#define WRITER_STABLE_NS (30 * NS_PER_S)	/* ran this long: its next death is news */
#define WRITER_STOP_NS (15 * NS_PER_S)

static void on_respawn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	writer_start(arg);
}

int writer_start(struct sup *s)
{
	int keep[] = { s->shm.fd, log_fd() };
	sigset_t all, old;

	if (s->writer_pid || s->stopping)
		return 0;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		/* Signals stay blocked: the writer takes them with sigwait(). */
		child_reset(keep, 2);
		writer_main(s->conf, s->shm.fd, s->shm.base, s->shm.size);
	}
	int err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		log_error("sup", NULL, "fork of the booking-writer: %s", strerror(err));
		return -err;
	}
	s->writer_pid = pid;
	s->writer_started_ns = mono_ns();
	s->writer_term_sent = false;
	return 0;
}

void writer_reaped(struct sup *s, int st)
{
	char how[64];

	if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(st));
	else
		snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(st));
	s->writer_pid = 0;
	if (s->stopping) {
		log_info("sup", NULL, "booking-writer stopped (%s)", how);
		return;
	}
	if (mono_ns() - s->writer_started_ns > WRITER_STABLE_NS)
		s->writer_fails = 0;
	int64_t ms = (int64_t)WRITER_BACKOFF_MIN_MS << (s->writer_fails < 7 ? s->writer_fails : 7);
	if (ms > WRITER_BACKOFF_MAX_MS)
		ms = WRITER_BACKOFF_MAX_MS;
	s->writer_fails++;
	s->restarts_total++;
	log_error("sup", NULL, "booking-writer %s; restarting in %lld ms", how, (long long)ms);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(s->writer_ev, &tv);
}

/* At shutdown, once no worker is left. True while the writer still runs. */
bool writer_stop(struct sup *s)
{
	if (!s->writer_pid)
		return false;
	if (!s->writer_term_sent) {
		kill(s->writer_pid, SIGTERM);
		s->writer_term_sent = true;
		s->writer_stop_deadline_ns = mono_ns() + WRITER_STOP_NS;
	} else if (mono_ns() > s->writer_stop_deadline_ns) {
		log_error("sup", NULL, "booking-writer ignores SIGTERM; killing it "
			  "(its journal keeps every acknowledged record)");
		kill(s->writer_pid, SIGKILL);
	}
	return true;
}

int writer_init(struct sup *s)
{
	s->writer_ev = event_new(s->base, -1, 0, on_respawn, s);
	return s->writer_ev ? writer_start(s) : -ENOMEM;
}

void writer_free(struct sup *s)
{
	if (s->writer_ev)
		event_free(s->writer_ev);
	s->writer_ev = NULL;
}
