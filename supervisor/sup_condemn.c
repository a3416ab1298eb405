/*
 * sup_condemn.c - the supervisor's side of condemning a record queue.
 *
 * The booking-writer condemns a queue whose bytes are not records (see
 * ipc/recq.h): it stops reading it and asks for a reset. Once a second the
 * supervisor answers: it kills the queue's producer, waits briefly until it
 * is dead, and resets the queue, so that the next producer in that region
 * starts clean and the writer reads it again.
 *
 * Why here: only the supervisor knows who produces in a region without
 * asking the region itself: its private pid table names the worker of a
 * slot and the api. A pid read from a region could name any process, so
 * one is used only for a tool's region (which no worker maps), and never
 * if it is one of ours or pid 0 or 1. Why kill: a queue can be reset only
 * while nobody writes it, and a producer that wrote garbage once will again.
 *
 * The reset happens while the killed producer is an unreaped zombie
 * (waitid WNOWAIT leaves the reaping to pool_reap), so no replacement can
 * have been forked into the region yet. Never blocks the loop for long: a
 * producer not dead within DEAD_WAIT_NS is looked at again on the next tick.
 */
#include "sup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/vg_time.h"

#define DEAD_WAIT_NS (50 * NS_PER_MS)

/* Whether pid has exited: a zombie of ours, or gone, or a zombie of another. */
static bool dead(pid_t pid, bool ours)
{
	char path[64], buf[512];
	siginfo_t si;

	if (ours) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
			return errno == ECHILD;
		return si.si_pid == pid;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return errno == ENOENT;
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	const char *st = strrchr(buf, ')');	/* the name may hold anything but not ")" last */
	return st && (st[2] == 'Z' || st[2] == 'X');
}

/* Kills pid and waits up to DEAD_WAIT_NS for it to die; true once it has. */
static bool kill_wait(pid_t pid, bool ours)
{
	struct timespec ms = { 0, NS_PER_MS };
	int64_t until = mono_ns() + DEAD_WAIT_NS;

	if (kill(pid, SIGKILL) < 0 && errno == ESRCH)
		return true;
	while (!dead(pid, ours)) {
		if (mono_ns() > until)
			return false;
		nanosleep(&ms, NULL);
	}
	return true;
}

static bool is_ours(const struct sup *s, pid_t pid)
{
	if (pid == getpid() || pid == s->writer.pid || pid == s->writer.old_pid ||
	    pid == s->api.pid || pid == s->api.old_pid)
		return true;
	for (uint32_t k = 0; k < s->nslots; k++)
		if (s->slots[k].pid == pid)
			return true;
	return false;
}

/*
 * Kills whatever produces in region i; true when nothing can write it now.
 * *who names it for the log.
 */
static bool silence(struct sup *s, uint32_t i, const struct recq *q, char *who, size_t len)
{
	if (i < s->nslots) {
		pid_t pid = s->slots[i].pid;
		snprintf(who, len, "worker %d", (int)pid);
		return !pid || kill_wait(pid, true);
	}
	if (i - s->nslots < SHM_API_REGIONS) {	/* the api's: the one it gave that queue */
		pid_t pid = (int)(i - s->nslots) == s->api.region ? s->api.pid : s->api.old_pid;
		snprintf(who, len, "api %d", (int)pid);
		return !pid || kill_wait(pid, true);
	}
	pid_t pid = atomic_load(&((struct recq *)q)->owner_pid);
	snprintf(who, len, "tool %d", (int)pid);
	if (pid <= 1 || is_ours(s, pid))
		return true;	/* nobody, or a lie: none of ours writes another's region */
	return kill_wait(pid, false);
}

void condemn_check(struct sup *s)
{
	const struct shm_header *h = shm_hdr(&s->shm);
	char who[48];

	for (uint32_t i = 0; i < h->nregions; i++) {
		struct recq *q = shm_recq(&s->shm, i);
		if (!recq_condemned(q))
			continue;
		if (!silence(s, i, q, who, sizeof(who))) {
			log_warn("sup", NULL, "record queue %u: %s not dead yet; resetting the "
				 "queue on the next tick", i, who);
			continue;
		}
		uint64_t dropped = recq_reset(q, h->recq_cap, i);
		log_error("sup", NULL, "record queue %u condemned by the booking-writer: killed "
			  "%s, queue reset (%llu record(s) in it lost)", i, who,
			  (unsigned long long)dropped);
	}
}
