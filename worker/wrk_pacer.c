/*
 * wrk_pacer.c - the 20 ms playout clock of one call on the worker's loop:
 * pace_clock.c decides, a libevent timer is the watchdog, a timerfd runs
 * the ticks while the caller is quiet. See pacer.h.
 *
 * Why two timers: the watchdog moves on every caller frame, and a
 * timerfd_settime per frame was a tenth of a busy worker's system calls
 * (each one a trap to the hypervisor here). A libevent timer moves in its
 * heap for nothing and only shapes epoll_wait's timeout; its millisecond
 * grain (and libevent's coarse clock) is harmless for a deadline half a
 * period after the frame expected. The ticks themselves, once the caller
 * is quiet, need the timerfd's precision.
 */
#include "pacer.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/vg_time.h"
#include "pace_clock.h"

struct pacer {
	struct pace_clock k;
	int fd;
	bool armed;			/* the timerfd runs */
	int64_t watch_set;		/* the watchdog's deadline as added, or 0 */
	struct event *ev;		/* the timerfd */
	struct event *watch;		/* the watchdog */
	pacer_fn fn;
	void *arg;
};

/* The timerfd on the ticks from at, or stopped (at 0). */
static void arm(struct pacer *p, int64_t at)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = 0, .tv_nsec = at ? p->k.period : 0 },
		.it_value = { .tv_sec = at / NS_PER_S, .tv_nsec = at % NS_PER_S },
	};

	if (timerfd_settime(p->fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		panic("pacer: timerfd_settime: %m");	/* only EINVAL or EFAULT: ours */
	p->armed = at != 0;
}

/* Makes the timers say what the clock decided. */
static void apply(struct pacer *p, int64_t now)
{
	struct pace_clock *k = &p->k;

	if (k->periodic) {
		if (k->rearm) {
			evtimer_del(p->watch);
			p->watch_set = 0;
			arm(p, pace_clock_timer_at(k));
			k->rearm = false;
		}
		return;
	}
	if (p->armed)
		arm(p, 0);
	if (k->watch_at != p->watch_set) {
		int64_t in = k->watch_at > now ? k->watch_at - now : 0;
		struct timeval tv = { .tv_sec = in / NS_PER_S,
				      .tv_usec = in % NS_PER_S / 1000 };

		evtimer_add(p->watch, &tv);
		p->watch_set = k->watch_at;
	}
}

/* fn may rephase (pacer_rephase applies that itself), so it goes last. */
static void served(struct pacer *p, uint64_t ticks, int64_t now)
{
	apply(p, now);
	if (ticks)
		p->fn(p->arg, ticks);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pacer *p = arg;
	uint64_t expired;
	(void)what;

	if (read(fd, &expired, sizeof(expired)) != sizeof(expired) || expired == 0)
		return;	/* re-armed since it was reported: EAGAIN */
	int64_t now = mono_ns();

	served(p, pace_clock_timer(&p->k, now), now);
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct pacer *p = arg;
	int64_t now = mono_ns();
	(void)fd; (void)what;

	p->watch_set = 0;
	served(p, pace_clock_watch(&p->k, now), now);
}

void pacer_inbound(struct pacer *p, int64_t now)
{
	served(p, pace_clock_frame(&p->k, now), now);
}

int pacer_start(struct pacer **out, struct event_base *base, int period_ms,
		pacer_fn fn, void *arg)
{
	struct pacer *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->fn = fn;
	p->arg = arg;
	p->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->fd < 0) {
		int err = -errno;
		free(p);
		return err;
	}
	p->ev = event_new(base, p->fd, EV_READ | EV_PERSIST, on_timer, p);
	p->watch = evtimer_new(base, on_watch, p);
	if (!p->ev || !p->watch || event_add(p->ev, NULL) < 0) {
		pacer_stop(p);
		return -EIO;
	}
	int64_t now = mono_ns();

	pace_clock_init(&p->k, now, period_ms * NS_PER_MS);
	apply(p, now);
	*out = p;
	return 0;
}

int pacer_rephase(struct pacer *p, int64_t at_ns)
{
	pace_clock_rephase(&p->k, at_ns);
	apply(p, mono_ns());
	return 0;
}

void pacer_pause(struct pacer *p)
{
	evtimer_del(p->watch);
	p->watch_set = 0;
	if (p->armed)
		arm(p, 0);
}

void pacer_stop(struct pacer *p)
{
	if (!p)
		return;
	if (p->ev)
		event_free(p->ev);
	if (p->watch)
		event_free(p->watch);
	close(p->fd);
	free(p);
}
