/*
 * sup_signals.c - signals and what they do: reload, drain, log reopen,
 * reap.
 *
 * libevent's evsignal runs the handlers from the loop (a self-pipe), so
 * nothing here runs in signal context.
 *
 * Reload builds the new configuration beside the old one and swaps only
 * when it is whole; a bad file is logged and the old generation keeps
 * running. New calls go to workers of the new generation; calls in
 * progress finish on the old one, whose workers are then retired.
 */
#include "sup.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "../worker/engine.h"

#define KILL_GRACE_NS (5 * NS_PER_S)

int sup_reload(struct sup *s, char *msg, size_t msglen)
{
	struct conf *next;
	char err[1024], warn[1024];
	int rc;

	notify_systemd("RELOADING=1");
	rc = conf_load(s->conf_path, engine_known, &next, err, sizeof(err));
	if (rc < 0) {
		log_error("sup", NULL, "reload failed, keeping generation %u: %s",
			  s->generation, err);
		snprintf(msg, msglen, "error: %s (generation %u kept)", err, s->generation);
		notify_systemd("READY=1");
		return rc;
	}
	if (conf_keep_restart_only(next, s->conf, warn, sizeof(warn)) > 0) {
		log_warn("sup", NULL, "%s", warn);
		/* The kept values must still agree with the new ones. */
		if ((rc = conf_check(next, err, sizeof(err))) < 0) {
			log_error("sup", NULL, "reload failed, keeping generation %u: %s "
				  "(with the restart-only keys kept)", s->generation, err);
			snprintf(msg, msglen, "error: %s (generation %u kept)", err, s->generation);
			conf_free(next);
			notify_systemd("READY=1");
			return rc;
		}
	}
	if (strcmp(next->log_file, s->conf->log_file) || next->syslog != s->conf->syslog) {
		rc = log_open("vagentd", next->log_file, next->syslog, next->log_level);
		if (rc < 0)
			log_error("sup", NULL, "log file %s: %s; logging stays where it was",
				  next->log_file, strerror(-rc));
	}
	log_set_level(next->log_level);
	conf_free(s->conf);	/* workers hold their own copy, made by fork() */
	s->conf = next;
	s->generation++;
	atomic_store(&shm_hdr(&s->shm)->generation, s->generation);
	log_info("sup", NULL, "configuration reloaded: generation %u, engine %s",
		 s->generation, next->engine);
	snprintf(msg, msglen, "ok generation %u", s->generation);
	pool_maintain(s);
	/* A new api with the new settings and a fresh DID map; the old finishes. */
	child_replace(s, &s->api);
	notify_systemd("READY=1");
	return 0;
}

void sup_drain(struct sup *s, bool exit_when_done)
{
	uint32_t busy = pool_count(s, SLOT_BUSY);

	if (exit_when_done && !s->stopping) {
		s->stopping = true;
		s->stop_deadline_ns = mono_ns() + s->conf->drain_timeout * NS_PER_S;
		notify_systemd("STOPPING=1");
		log_info("sup", NULL, "stopping: %u call(s) in progress, waiting at most %d s",
			 busy, s->conf->drain_timeout);
		pool_retire_idle(s, true);
	} else if (!s->draining) {
		log_info("sup", NULL, "draining: new calls are turned away; %u in progress", busy);
	}
	s->draining = true;
	atomic_store(&shm_hdr(&s->shm)->draining, 1);
	status_changed(s);
	sup_check_stop(s);
}

void sup_resume(struct sup *s)
{
	if (s->stopping || !s->draining)
		return;
	s->draining = false;
	atomic_store(&shm_hdr(&s->shm)->draining, 0);
	log_info("sup", NULL, "resumed: taking calls again");
	pool_maintain(s);
}

/* While stopping: exit once no worker is left; past the deadline, end calls. */
void sup_check_stop(struct sup *s)
{
	if (!s->stopping)
		return;
	uint32_t alive = pool_alive(s);
	if (alive == 0) {
		/* Then the api, then the writer: every record gets journaled. */
		if (!child_stop(&s->api) && !child_stop(&s->writer))
			event_base_loopbreak(s->base);
		return;
	}
	int64_t now = mono_ns();
	if (now >= s->stop_deadline_ns && !s->killed_stragglers) {
		log_warn("sup", NULL, "drain_timeout reached: ending %u call(s)",
			 pool_count(s, SLOT_BUSY));
		pool_signal_all(s, SIGTERM);	/* workers hang up, then exit */
		s->killed_stragglers = true;
	} else if (now >= s->stop_deadline_ns + KILL_GRACE_NS) {
		log_error("sup", NULL, "%u worker(s) ignored SIGTERM; killing them", alive);
		pool_signal_all(s, SIGKILL);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct sup *s = arg;
	char msg[1200];
	int rc;
	(void)what;

	switch (sig) {
	case SIGHUP:
		sup_reload(s, msg, sizeof(msg));
		break;
	case SIGTERM:
	case SIGQUIT:
	case SIGINT:
		sup_drain(s, true);
		break;
	case SIGUSR1:
		rc = log_reopen();
		if (rc < 0)
			log_error("sup", NULL, "cannot reopen the log file: %s", strerror(-rc));
		pool_signal_all(s, SIGUSR1);
		child_signal(&s->writer, SIGUSR1);
		child_signal(&s->api, SIGUSR1);
		break;
	case SIGCHLD:
		pool_reap(s);
		break;
	}
}

int signals_start(struct sup *s)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGQUIT, SIGINT, SIGUSR1, SIGCHLD };

	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		s->sig_ev[i] = evsignal_new(s->base, sigs[i], on_signal, s);
		if (!s->sig_ev[i] || event_add(s->sig_ev[i], NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}
