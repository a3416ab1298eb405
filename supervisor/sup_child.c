/*
 * sup_child.c - the supervisor's long-lived helper processes: the
 * booking-writer and the api. Start them, restart them when they die,
 * replace the api on reload, stop them in order at shutdown.
 *
 * Order at shutdown: calls first (workers), then the api (its last
 * create_booking records must reach the queue), then the writer (so every
 * record in a queue is journaled before it goes). A child that keeps dying
 * is restarted with a growing delay; what it was doing waits safely
 * meanwhile (records stay in their queues, connections in the api's
 * listen backlog, which the supervisor holds).
 *
 * The api has two record queues and each copy produces into one: a
 * reload's new api takes the queue the old one is not using, and a queue
 * is handed on only after the api that had it has been reaped. A queue is
 * single-producer; two apis in one queue lose and garble bookings.
 */
#include "sup.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/vg_time.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define STABLE_NS (30 * NS_PER_S)	/* ran this long: its next death starts afresh */
#define STOP_NS (15 * NS_PER_S)

static int child_start(struct sup *s, struct sup_child *c)
{
	sigset_t all, old;

	if (c->pid || s->stopping || !c->enabled)
		return 0;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t pid = fork();
	if (pid == 0)
		c->run(s);	/* never returns; signals stay blocked for it to decide */
	int err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		log_error("sup", NULL, "fork of the %s: %s", c->name, strerror(err));
		return -err;
	}
	c->pid = pid;
	c->started_ns = mono_ns();
	c->term_sent = false;
	log_debug("sup", NULL, "%s started (pid %d)", c->name, (int)pid);
	return 0;
}

static void on_restart(evutil_socket_t fd, short what, void *arg)
{
	struct sup_child *c = arg;
	(void)fd; (void)what;
	child_start(c->sup, c);
}

/*
 * Reload: a new one first, in the queue the old one is not using; then the
 * old one finishes what it has taken and goes. While an older one is still
 * finishing, the queue it holds is not free: the replacement waits for its
 * reap (it has a deadline of its own; past STOP_NS it is killed), and the
 * current one serves meanwhile, so no request is refused or dropped.
 */
void child_replace(struct sup *s, struct sup_child *c)
{
	if (s->stopping)
		return;
	if (c->old_pid) {
		c->replace_pending = true;
		if (mono_ns() - c->old_since_ns > STOP_NS) {
			log_error("sup", NULL, "old %s (pid %d) still running; killing it", c->name,
				  (int)c->old_pid);
			kill(c->old_pid, SIGKILL);
		}
		log_info("sup", NULL, "%s replaced once the old one (pid %d) has finished",
			 c->name, (int)c->old_pid);
		return;
	}
	c->replace_pending = false;
	if (!c->pid) {			/* died; restart it now, in its own queue */
		event_del(c->restart_ev);
		child_start(s, c);
		return;
	}
	c->old_pid = c->pid;
	c->old_since_ns = mono_ns();
	c->pid = 0;
	c->region ^= 1;
	if (child_start(s, c) < 0 || !c->pid) {
		c->pid = c->old_pid;	/* the old one stays, in its own queue */
		c->old_pid = 0;
		c->region ^= 1;
		return;
	}
	kill(c->old_pid, SIGTERM);
}

static void describe(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
}

bool child_reaped(struct sup *s, struct sup_child *c, pid_t pid, int st)
{
	char how[64];

	if (pid == c->old_pid) {
		c->old_pid = 0;		/* its queue is free: nothing writes it any more */
		if (c->replace_pending)
			child_replace(s, c);
		return true;
	}
	if (pid != c->pid)
		return false;
	describe(st, how, sizeof(how));
	c->pid = 0;
	if (s->stopping) {
		log_info("sup", NULL, "%s stopped (%s)", c->name, how);
		return true;
	}
	if (mono_ns() - c->started_ns > STABLE_NS)
		c->fails = 0;
	int64_t ms = (int64_t)BACKOFF_MIN_MS << (c->fails < 7 ? c->fails : 7);
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	c->fails++;
	s->restarts_total++;
	log_error("sup", NULL, "%s %s; restarting in %lld ms", c->name, how, (long long)ms);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(c->restart_ev, &tv);
	return true;
}

bool child_stop(struct sup_child *c)
{
	if (c->old_pid)
		kill(c->old_pid, SIGTERM);
	if (!c->pid)
		return c->old_pid != 0;
	if (!c->term_sent) {
		kill(c->pid, SIGTERM);
		c->term_sent = true;
		c->stop_deadline_ns = mono_ns() + STOP_NS;
	} else if (mono_ns() > c->stop_deadline_ns) {
		log_error("sup", NULL, "%s ignores SIGTERM; killing it", c->name);
		kill(c->pid, SIGKILL);
	}
	return true;
}

void child_signal(struct sup_child *c, int sig)
{
	if (c->pid)
		kill(c->pid, sig);
	if (c->old_pid)
		kill(c->old_pid, sig);
}

int child_init(struct sup *s, struct sup_child *c, const char *name, bool enabled,
	       void (*run)(struct sup *))
{
	c->sup = s;
	c->name = name;
	c->enabled = enabled;
	c->run = run;
	c->restart_ev = event_new(s->base, -1, 0, on_restart, c);
	return c->restart_ev ? child_start(s, c) : -ENOMEM;
}

void child_free(struct sup_child *c)
{
	if (c->restart_ev)
		event_free(c->restart_ev);
	c->restart_ev = NULL;
}
