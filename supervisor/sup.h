/*
 * sup.h - the supervisor's one context struct and its modules.
 *
 * The supervisor binds, forks, hands sockets over, restarts what dies and
 * publishes capacity. It never reads audio and never touches a database.
 * Its private worker table is the source of truth; the shared segment is a
 * mirror for tools (PostgreSQL's pmsignal.c keeps a private array for the
 * same reason: a crashed worker may have scribbled on shared memory).
 *
 * Modules: sup_main.c (start-up, shutdown), sup_listen.c (accept, hand
 * off, reject), sup_pool.c (fork, reap, respawn, retire), sup_signals.c
 * (reload, drain, log reopen), sup_status.c (available, metrics.prom),
 * sup_condemn.c (the reset of a record queue the writer condemned),
 * sup_retention.c (old call recordings),
 * sup_control.c (vagentctl's socket), sup_notify.c (systemd),
 * sup_child.c (start, restart, replace and stop the api and the writer),
 * sup_handoff.c (removing the hand-off reason files once read).
 * The programs it forks live beside it: api/ (the HTTP backend),
 * writer/ (the booking-writer), ../worker/ (one call each); vagentctl is
 * ctl/. Each has its own main and shares no state with this one but the
 * segment and the descriptors handed over.
 */
#ifndef VG_SUP_H
#define VG_SUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/buf.h"
#include "../ipc/shm.h"

struct conf;
struct event;
struct event_base;

/* Event priorities: accepting and handing off before bookkeeping. */
#define SUP_PRIOS 3
#define SUP_PRIO_LOW 2

struct sup;

struct sup_child {
	struct sup *sup;
	const char *name;
	bool enabled;
	void (*run)(struct sup *s);	/* in the child; never returns */
	pid_t pid;
	pid_t old_pid;			/* the one a reload replaced, finishing up */
	int region;			/* pid's record queue of the child's two (api) */
	bool replace_pending;		/* a reload came while old_pid was finishing */
	int64_t old_since_ns;
	int64_t started_ns;
	int fails;
	bool term_sent;
	int64_t stop_deadline_ns;
	struct event *restart_ev;
};

struct wslot {
	pid_t pid;			/* 0: empty */
	int chan;			/* our end of the socketpair */
	struct event *chan_ev;
	enum slot_state state;
	uint32_t generation;
	uint64_t call_seq;		/* the call handed to it, if busy */
	bool retire_sent;
	bool ever_ready;
	bool killed;			/* SIGKILLed as broken or stuck; reaping */
	int64_t busy_since_ns;		/* hand-off of its call: the watchdog's floor */
};

struct sup {
	struct conf *conf;
	uint32_t generation;
	bool become;			/* started as root: uid/gid are [vagentd] user's */
	uid_t uid;
	gid_t gid;
	const char *conf_path;
	bool foreground;

	struct event_base *base;
	int listen_fd;
	struct event *listen_ev;
	int twilio_fd;			/* [twilio] listen; -1: off */
	struct event *twilio_ev;

	struct shm_map shm;
	struct wslot *slots;
	uint32_t nslots;

	/* Counters, mirrored into the segment header and metrics.prom. */
	uint64_t calls_total, rejected_total, failed_total, restarts_total;
	uint64_t workers_killed_total;	/* broken protocol or watchdog */
	uint64_t call_seq;
	uint64_t rejected_logged;	/* rejections already reported in the log */

	bool draining;			/* no new calls */
	bool stopping;			/* draining, then exit */
	int64_t stop_deadline_ns;
	bool killed_stragglers;

	/* Respawn throttle for workers that die before their first READY. */
	int bad_starts;
	int64_t spawn_not_before_ns;
	struct event *spawn_ev;
	struct event *watchdog_ev;	/* 1 s: busy workers' heartbeats */

	struct event *sig_ev[8];
	struct event *tick_ev;		/* 1 s: status files, drain deadline */
	struct event *status_ev;	/* deferred status write after a change */
	bool status_warned;
	struct event *handoff_ev;	/* sweeps old hand-off reason files */
	bool handoff_warned;
	struct buf hist;		/* histograms' text, re-summed once a second */
	int64_t hist_at_ns;

	/* Long-lived children: the booking-writer and the api. */
	struct sup_child writer;
	struct sup_child api;
	int api_fd;			/* the api's listener, held across api restarts */
	struct ssl_ctx_st *tls;		/* workers' shared TLS client context, or NULL */

	int ctl_fd;
	struct event *ctl_ev;
	int pid_fd;
	char pid_path[4200], ctl_path[4200];

	/* Recordings' retention (sup_retention.c): the next sweep, and its config's. */
	int64_t retention_next_ns;
	uint32_t retention_gen;
};

/* sup_pool.c */
int pool_init(struct sup *s);
void pool_maintain(struct sup *s);
struct wslot *pool_pick_idle(struct sup *s);
int pool_handoff(struct sup *s, struct wslot *w, int fd, int64_t t_accept_ns, uint16_t flags);
void pool_reap(struct sup *s);
void pool_retire_idle(struct sup *s, bool all);
void pool_signal_all(struct sup *s, int sig);
uint32_t pool_count(const struct sup *s, enum slot_state st);
uint32_t pool_alive(const struct sup *s);
void pool_free(struct sup *s);

/* In a forked child: default signal dispositions, only keep[] descriptors. */
void child_reset(const int *keep, int nkeep);

/* sup_child.c */
int child_init(struct sup *s, struct sup_child *c, const char *name, bool enabled,
	       void (*run)(struct sup *));
void child_replace(struct sup *s, struct sup_child *c);
bool child_reaped(struct sup *s, struct sup_child *c, pid_t pid, int status);
bool child_stop(struct sup_child *c);	/* true while it still runs */
void child_signal(struct sup_child *c, int sig);
void child_free(struct sup_child *c);

/* sup_listen.c */
int listen_open(struct sup *s, char *err, size_t errlen);
int listen_tcp(const char *host, int port, int backlog, int *fd, char *err, size_t errlen);
int listen_start(struct sup *s);
void listen_close(struct sup *s);

/* sup_signals.c */
int signals_start(struct sup *s);
int sup_reload(struct sup *s, char *msg, size_t msglen);
void sup_drain(struct sup *s, bool exit_when_done);
void sup_resume(struct sup *s);
void sup_check_stop(struct sup *s);

/* sup_status.c */
void status_changed(struct sup *s);
void status_write(struct sup *s);
int status_start(struct sup *s);

/* sup_retention.c: removes recordings older than recording_days, hourly. */
void retention_check(struct sup *s);
/* sup_handoff.c: removes hand-off reason files older than their lifetime,
 * now and then every few seconds. */
int handoff_sweep_start(struct sup *s);

/* sup_condemn.c: kills the producer of a queue the writer condemned, resets it. */
void condemn_check(struct sup *s);

/* sup_control.c */
int control_open(struct sup *s, char *err, size_t errlen);
int control_start(struct sup *s);
void control_close(struct sup *s);

/* sup_notify.c */
void notify_systemd(const char *state);

#endif
