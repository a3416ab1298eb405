/*
 * wrk_pacer.c - the 20 ms playout clock of one call, on a timerfd.
 */
#include "pacer.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/vg_time.h"

struct pacer {
	int fd;
	int period_ms;
	struct event *ev;
	pacer_fn fn;
	void *arg;
};

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pacer *p = arg;
	uint64_t ticks;

	(void)what;
	if (read(fd, &ticks, sizeof(ticks)) != sizeof(ticks) || ticks == 0)
		return;	/* spurious wake-up: EAGAIN */
	p->fn(p->arg, ticks);
}

int pacer_start(struct pacer **out, struct event_base *base, int period_ms,
		pacer_fn fn, void *arg)
{
	struct pacer *p = calloc(1, sizeof(*p));
	int64_t first = mono_ns() + period_ms * NS_PER_MS;
	struct itimerspec its = {
		.it_interval = { .tv_sec = 0, .tv_nsec = period_ms * NS_PER_MS },
		.it_value = { .tv_sec = first / NS_PER_S, .tv_nsec = first % NS_PER_S },
	};

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->fn = fn;
	p->arg = arg;
	p->period_ms = period_ms;
	p->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->fd < 0) {
		int err = -errno;
		free(p);
		return err;
	}
	p->ev = event_new(base, p->fd, EV_READ | EV_PERSIST, on_timer, p);
	if (!p->ev || event_add(p->ev, NULL) < 0 ||
	    timerfd_settime(p->fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		pacer_stop(p);
		return -EIO;
	}
	*out = p;
	return 0;
}

int pacer_rephase(struct pacer *p, int64_t at_ns)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = 0, .tv_nsec = p->period_ms * NS_PER_MS },
		.it_value = { .tv_sec = at_ns / NS_PER_S, .tv_nsec = at_ns % NS_PER_S },
	};

	return timerfd_settime(p->fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

void pacer_stop(struct pacer *p)
{
	if (!p)
		return;
	if (p->ev)
		event_free(p->ev);
	close(p->fd);
	free(p);
}
