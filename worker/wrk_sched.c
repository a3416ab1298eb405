/*
 * wrk_sched.c - a worker's CPU class (see wrk_sched.h).
 *
 * The worker is one thread (the websockets run on its loop, ws.h), so the
 * class set here covers all of its audio.
 */
#include "wrk_sched.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#define RT_PRIORITY 1			/* above every normal task, below the kernel's own */
#define RTTIME_SOFT_US 500000		/* SIGXCPU: running half a second without blocking */
#define RTTIME_HARD_US 1000000		/* SIGKILL */
#define NICE_BOOST (-5)

static int try_rr(void)
{
	struct rlimit rt = { RTTIME_SOFT_US, RTTIME_HARD_US };
	struct sched_param sp = { .sched_priority = RT_PRIORITY };

	/* The limit first: RR without it could starve the box. */
	if (setrlimit(RLIMIT_RTTIME, &rt) < 0)
		return -errno;
	if (sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp) < 0)
		return -errno;
	return 0;
}

void wrk_sched_raise(bool realtime, char *how, size_t len)
{
	int rc;

	if (!realtime) {
		snprintf(how, len, "normal (realtime = no)");
		return;
	}
	if ((rc = try_rr()) == 0) {
		snprintf(how, len, "SCHED_RR %d", RT_PRIORITY);
		return;
	}
	if (setpriority(PRIO_PROCESS, 0, NICE_BOOST) == 0) {
		snprintf(how, len, "nice %d (SCHED_RR: %s)", NICE_BOOST, strerror(-rc));
		return;
	}
	snprintf(how, len, "normal (SCHED_RR: %s; nice: %s)", strerror(-rc), strerror(errno));
}
