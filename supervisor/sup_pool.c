/*
 * sup_pool.c - the worker pool: fork, hand off, reap, respawn, retire.
 *
 * Each slot of the private table is one worker process (or empty). A
 * worker is STARTING until it says READY, IDLE between calls, BUSY from
 * the moment a call is handed to it until it reports DONE, and RETIRING
 * once told to exit. Only DONE makes a busy worker idle again; a worker
 * that dies while BUSY is a failed call.
 *
 * Forking: every signal is blocked across fork() so that no handler of
 * ours runs in the child; the child resets the dispositions libevent
 * installed, closes every descriptor it must not hold (the listener,
 * other workers' channels, the event loop's own), and only then unblocks.
 * Workers that die before their first READY are respawned with a growing
 * delay (Postfix's "bad command startup -- throttling").
 *
 * A worker is a peer, not a part of us: it handles a caller's bytes and
 * providers' replies and may be compromised or wedged. A worker that
 * breaks the channel protocol (a descriptor, an unknown type, a DONE for
 * no call, a malformed record) is killed at once, logged once and counted;
 * nothing it sent is kept. A busy worker whose heartbeat (its slot's
 * heartbeat_ns, stamped by its loop every second) is older than
 * [vagentd] watchdog is killed the same way, so a worker stuck in a
 * blocking call or stopped cannot hold a slot: its call fails and the
 * slot returns. The heartbeat is a hint the worker writes; the bound is
 * measured from the later of it and the hand-off, which we recorded.
 */
#include "sup.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "../ipc/chan.h"
#include "../worker/worker.h"

#define THROTTLE_MIN_MS 100
#define THROTTLE_MAX_MS 10000

static void on_worker_msg(evutil_socket_t fd, short what, void *arg);

uint32_t pool_count(const struct sup *s, enum slot_state st)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->nslots; i++)
		n += s->slots[i].pid && s->slots[i].state == st;
	return n;
}

uint32_t pool_alive(const struct sup *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->nslots; i++)
		n += s->slots[i].pid != 0;
	return n;
}

static uint32_t slot_index(const struct sup *s, const struct wslot *w)
{
	return (uint32_t)(w - s->slots);
}

/* Closes every descriptor except stdio and those in keep[]. */
static void close_inherited(const int *keep, int nkeep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool kept = fd <= 2 || fd == dirfd(d) || de->d_name[0] == '.';
		for (int i = 0; i < nkeep && !kept; i++)
			kept = fd == keep[i];
		if (!kept)
			close(fd);
	}
	closedir(d);
}

void child_reset(const int *keep, int nkeep)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGQUIT, SIGINT, SIGUSR1, SIGUSR2, SIGCHLD,
				    SIGPIPE };

	for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
		signal(sigs[k], SIG_DFL);
	log_after_fork();
	close_inherited(keep, nkeep);
}

static void worker_child(struct sup *s, uint32_t i, int chan)
{
	struct worker_args a = {
		.conf = s->conf, .slot_idx = i, .generation = s->generation, .chan = chan,
		.shm_fd = s->shm.fd, .hdr = shm_hdr(&s->shm),
		.segment = s->shm.base, .segment_size = s->shm.size, .tls = s->tls,
	};
	int keep[] = { chan, s->shm.fd, log_fd() };

	child_reset(keep, 3);
	worker_main(&a);
}

static int spawn(struct sup *s, uint32_t i)
{
	struct wslot *w = &s->slots[i];
	sigset_t all, old;
	int sv[2], rc;

	if ((rc = chan_pair(sv)) < 0)
		return rc;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		worker_child(s, i, sv[1]);
	}
	rc = pid < 0 ? -errno : 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	if (rc < 0) {
		close(sv[0]);
		log_error("sup", NULL, "fork: %s", strerror(-rc));
		return rc;
	}
	memset(w, 0, sizeof(*w));
	w->pid = pid;
	w->chan = sv[0];
	w->state = SLOT_STARTING;
	w->generation = s->generation;
	w->chan_ev = event_new(s->base, sv[0], EV_READ | EV_PERSIST, on_worker_msg, s);
	if (!w->chan_ev || event_add(w->chan_ev, NULL) < 0)
		panic("cannot watch worker %d's channel", (int)pid);
	log_debug("sup", NULL, "worker %d started in slot %u (generation %u)",
		  (int)pid, i, s->generation);
	return 0;
}

static int spawn_any(struct sup *s, struct wslot **out)
{
	if (mono_ns() < s->spawn_not_before_ns)
		return -EAGAIN;
	for (uint32_t i = 0; i < s->nslots; i++) {
		if (s->slots[i].pid)
			continue;
		int rc = spawn(s, i);
		if (rc == 0 && out)
			*out = &s->slots[i];
		return rc;
	}
	return -ENOSPC;
}

static void retire(struct wslot *w)
{
	struct chan_msg m = { .magic = CHAN_MAGIC, .type = CHAN_RETIRE,
			      .generation = w->generation };

	if (w->retire_sent)
		return;
	w->retire_sent = true;
	if (w->state == SLOT_IDLE || w->state == SLOT_STARTING)
		w->state = SLOT_RETIRING;
	/* A full or closed channel means the worker is going anyway. */
	chan_send(w->chan, &m, -1);
}

void pool_retire_idle(struct sup *s, bool all)
{
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct wslot *w = &s->slots[i];
		if (!w->pid || w->retire_sent)
			continue;
		if (all || (w->generation != s->generation &&
			    (w->state == SLOT_IDLE || w->state == SLOT_STARTING)))
			retire(w);
	}
}

static void on_spawn_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	pool_maintain(arg);
}

void pool_maintain(struct sup *s)
{
	uint32_t spare = 0;

	if (s->stopping)
		return;
	pool_retire_idle(s, false);
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct wslot *w = &s->slots[i];
		spare += w->pid && !w->retire_sent && w->generation == s->generation &&
			 (w->state == SLOT_IDLE || w->state == SLOT_STARTING);
	}
	while (spare < (uint32_t)s->conf->min_spare) {
		int rc = spawn_any(s, NULL);
		if (rc == -EAGAIN) {
			struct timeval tv = { 0, 0 };
			int64_t wait = s->spawn_not_before_ns - mono_ns();
			tv.tv_sec = wait / NS_PER_S;
			tv.tv_usec = (wait % NS_PER_S) / 1000;
			event_add(s->spawn_ev, &tv);
		}
		if (rc < 0)
			break;
		spare++;
	}
	/* Too many idle after a burst: let the newest go. */
	for (uint32_t i = s->nslots; i-- > 0 && spare > (uint32_t)s->conf->max_spare;) {
		struct wslot *w = &s->slots[i];
		if (w->pid && !w->retire_sent && w->state == SLOT_IDLE) {
			retire(w);
			spare--;
		}
	}
	status_changed(s);
}

struct wslot *pool_pick_idle(struct sup *s)
{
	struct wslot *starting = NULL;

	for (uint32_t i = 0; i < s->nslots; i++) {
		struct wslot *w = &s->slots[i];
		if (!w->pid || w->retire_sent || w->generation != s->generation)
			continue;
		if (w->state == SLOT_IDLE)
			return w;
		if (w->state == SLOT_STARTING && !starting)
			starting = w;
	}
	if (starting)
		return starting;	/* the call waits in its channel until READY */
	struct wslot *fresh = NULL;
	spawn_any(s, &fresh);
	return fresh;
}

int pool_handoff(struct sup *s, struct wslot *w, int fd, int64_t t_accept_ns, uint16_t flags)
{
	struct chan_msg m = {
		.magic = CHAN_MAGIC, .type = CHAN_CALL, .flags = flags, .generation = w->generation,
		.slot = slot_index(s, w), .seq = s->call_seq + 1, .t_accept_ns = t_accept_ns,
	};
	int rc = chan_send(w->chan, &m, fd);

	if (rc < 0)
		return rc;
	/* The kernel holds a reference in flight; ours is no longer needed. */
	close(fd);
	s->call_seq++;
	s->calls_total++;
	w->state = SLOT_BUSY;
	w->call_seq = m.seq;
	w->busy_since_ns = mono_ns();
	return 0;
}

/* The call a busy worker's slot names, for the log; only a hint. */
static void slot_uuid(struct sup *s, const struct wslot *w, char *uuid, size_t len)
{
	struct slot_info info;

	uuid[0] = '\0';
	if (w->state != SLOT_BUSY ||
	    slot_read(shm_slot(&s->shm, slot_index(s, w)), &info) < 0)
		return;
	info.uuid[sizeof(info.uuid) - 1] = '\0';
	snprintf(uuid, len, "%s", info.uuid);
}

/*
 * Ends a worker we no longer trust: SIGKILL (a stopped or hostile process
 * honours nothing else), stop listening to it, one log line. The reaper
 * frees the slot and fails its call.
 */
static void worker_kill(struct sup *s, struct wslot *w, const char *why)
{
	char uuid[40];

	if (w->killed)
		return;
	w->killed = true;
	s->workers_killed_total++;
	slot_uuid(s, w, uuid, sizeof(uuid));
	log_warn("sup", uuid[0] ? uuid : NULL, "worker %d %s; killed it", (int)w->pid, why);
	event_del(w->chan_ev);
	kill(w->pid, SIGKILL);
}

static void on_ready(struct sup *s, struct wslot *w)
{
	w->ever_ready = true;
	s->bad_starts = 0;
	if (w->state == SLOT_STARTING)
		w->state = SLOT_IDLE;
	if (w->state == SLOT_IDLE && (w->generation != s->generation || s->stopping))
		retire(w);
}

static void on_done(struct sup *s, struct wslot *w, const struct chan_msg *m)
{
	if (w->state != SLOT_BUSY) {
		worker_kill(s, w, "reported a call it was not given");
		return;
	}
	if (m->result != CHAN_CALL_OK)
		s->failed_total++;
	w->state = (m->flags & CHAN_F_EXITING) || w->retire_sent ? SLOT_RETIRING : SLOT_IDLE;
	w->call_seq = 0;
	if (w->state == SLOT_IDLE && (w->generation != s->generation || s->stopping))
		retire(w);
	pool_maintain(s);
}

static void on_worker_msg(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	struct wslot *w = NULL;
	struct chan_msg m;
	char why[64];
	int rc;
	(void)what;

	for (uint32_t i = 0; i < s->nslots && !w; i++)
		if (s->slots[i].pid && s->slots[i].chan == fd)
			w = &s->slots[i];
	if (!w)
		panic("channel %d belongs to no worker", (int)fd);
	/* NULL: a worker never sends us a descriptor; chan.c closes any it tries. */
	while (!w->killed && (rc = chan_recv(fd, &m, NULL)) == 0) {
		if (m.type == CHAN_READY) {
			on_ready(s, w);
		} else if (m.type == CHAN_DONE) {
			on_done(s, w, &m);
		} else {
			snprintf(why, sizeof(why), "sent message type %u", m.type);
			worker_kill(s, w, why);
		}
	}
	if (!w->killed && rc == -EPROTO)
		worker_kill(s, w, "sent a malformed message or a descriptor");
	else if (!w->killed && rc != -EAGAIN)
		event_del(w->chan_ev);	/* it is exiting; SIGCHLD does the rest */
	status_changed(s);
}

/* Once a second: busy workers whose loop has not run for [vagentd] watchdog. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	int64_t now = mono_ns(), bound = (int64_t)s->conf->watchdog * NS_PER_S;
	char why[96];
	(void)fd; (void)what;

	for (uint32_t i = 0; i < s->nslots; i++) {
		struct wslot *w = &s->slots[i];
		if (!w->pid || w->killed || w->state != SLOT_BUSY)
			continue;
		const struct slot *sh = shm_slot(&s->shm, i);
		int64_t seen = atomic_load_explicit(&sh->heartbeat_ns, memory_order_relaxed);
		if (seen < w->busy_since_ns || seen > now)
			seen = w->busy_since_ns;	/* stale, or not a time we can use */
		if (now - seen <= bound)
			continue;
		snprintf(why, sizeof(why), "made no progress for %lld s (watchdog %d s)",
			 (long long)((now - seen) / NS_PER_S), s->conf->watchdog);
		worker_kill(s, w, why);
	}
}

static void describe_exit(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d%s", WTERMSIG(st),
			 WCOREDUMP(st) ? ", core dumped" : "");
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
}

static void clear_slot(struct sup *s, struct wslot *w)
{
	struct slot *sh = shm_slot(&s->shm, slot_index(s, w));

	event_free(w->chan_ev);
	close(w->chan);
	memset(w, 0, sizeof(*w));
	w->chan = -1;
	/* The worker is dead: the supervisor is now this slot's only writer. */
	slot_write_begin(sh);
	memset(&sh->info, 0, sizeof(sh->info));
	slot_write_end(sh);
	/*
	 * A killed worker may leave audio in its rings; the next caller in this
	 * slot must never hear it. (The record queue is left alone: what it
	 * holds is still the writer's to journal.)
	 */
	const struct shm_header *h = shm_hdr(&s->shm);
	ring_init(slot_ring_in(sh, h), h->ring_samples);
	ring_init(slot_ring_out(sh, h), h->ring_samples);
}

static void reaped(struct sup *s, struct wslot *w, int st)
{
	bool expected = w->retire_sent || w->state == SLOT_RETIRING ||
			(WIFEXITED(st) && WEXITSTATUS(st) == 0 && w->state != SLOT_BUSY);
	char how[64];

	describe_exit(st, how, sizeof(how));
	if (w->state == SLOT_BUSY) {
		/* The dead worker's slot still names its call; it is only a hint. */
		char uuid[40];
		slot_uuid(s, w, uuid, sizeof(uuid));
		s->failed_total++;
		if (!w->killed)
			log_warn("sup", uuid[0] ? uuid : NULL,
				 "worker %d died during call %llu (%s); the call failed",
				 (int)w->pid, (unsigned long long)w->call_seq, how);
	} else if (!expected && !w->killed) {
		log_warn("sup", NULL, "worker %d exited unexpectedly (%s)", (int)w->pid, how);
	}
	if (!expected || w->state == SLOT_BUSY)
		s->restarts_total++;
	if (!w->ever_ready && !expected) {
		int64_t ms = THROTTLE_MIN_MS << (s->bad_starts < 7 ? s->bad_starts : 7);
		if (ms > THROTTLE_MAX_MS)
			ms = THROTTLE_MAX_MS;
		s->bad_starts++;
		s->spawn_not_before_ns = mono_ns() + ms * NS_PER_MS;
		log_warn("sup", NULL, "worker died before it was ready; throttling respawn %lld ms",
			 (long long)ms);
	}
	clear_slot(s, w);
}

void pool_reap(struct sup *s)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (child_reaped(s, &s->writer, pid, st) || child_reaped(s, &s->api, pid, st))
			continue;
		for (uint32_t i = 0; i < s->nslots; i++) {
			if (s->slots[i].pid == pid) {
				reaped(s, &s->slots[i], st);
				break;
			}
		}
	}
	pool_maintain(s);
	sup_check_stop(s);
}

void pool_signal_all(struct sup *s, int sig)
{
	for (uint32_t i = 0; i < s->nslots; i++)
		if (s->slots[i].pid)
			kill(s->slots[i].pid, sig);
}

int pool_init(struct sup *s)
{
	s->nslots = (uint32_t)s->conf->max_calls;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	struct timeval sec = { 1, 0 };

	s->spawn_ev = event_new(s->base, -1, 0, on_spawn_timer, s);
	s->watchdog_ev = event_new(s->base, -1, EV_PERSIST, on_watchdog, s);
	if (!s->slots || !s->spawn_ev || !s->watchdog_ev || event_add(s->watchdog_ev, &sec) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->nslots; i++)
		s->slots[i].chan = -1;
	return 0;
}

void pool_free(struct sup *s)
{
	for (uint32_t i = 0; i < s->nslots; i++) {
		if (s->slots[i].chan_ev)
			event_free(s->slots[i].chan_ev);
		if (s->slots[i].chan >= 0)
			close(s->slots[i].chan);
	}
	if (s->spawn_ev)
		event_free(s->spawn_ev);
	if (s->watchdog_ev)
		event_free(s->watchdog_ev);
	free(s->slots);
	s->slots = NULL;
}
