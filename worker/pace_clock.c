/*
 * pace_clock.c - the rules of a call's playout clock. See pace_clock.h.
 *
 * A frame serves the ticks that are late, or else the one due within half
 * a period, so a steady caller's frame is the one wake-up per period and
 * our frames go out at the caller's times. The watchdog waits half a
 * period past a tick for a frame; when it fires it serves the tick, and the
 * periodic timer takes over until a frame comes.
 *
 * Why a guard: a frame less than a quarter period after a service serves
 * nothing, so a burst of caller frames after a network hiccup never
 * bursts audio out. (A tick ahead of a frame is never served with a late
 * one, so no wake-up serves two ticks unless a wake-up was missed.) Not
 * half a period: after a late service (the watchdog's, a late frame's) a
 * caller a little early on the next tick must still serve it. That makes
 * one short interval, which the far end's jitter buffer absorbs; refusing
 * would make a gap, which it cannot.
 *
 * Why the clock follows the caller: serving on the caller's wake-up puts
 * our frames at its times, so only which tick is due depends on the
 * clock. A reply's rephase leaves the ticks anywhere against the caller's
 * frames, and a caller's phase can jump (a path change, a stall). Near
 * half a period off, jitter would make a frame go one wake-up early and
 * leave a gap; past it, the watchdog would serve every tick just before
 * the frame that should have: two wake-ups per frame, for good. So when
 * two frames in a row find the clock more than a quarter period off their
 * phase (the tick they served was that far off, or the watchdog had
 * served it just before them), the clock moves onto the caller. One such
 * frame is only a late frame: moving on it would cost the next one its
 * tick. Within a quarter the clock stays put, so ordinary jitter never
 * moves it. Frames that do not come a period apart (a channel framed at
 * 10 or 30 ms) have no phase to follow: the clock keeps its own, or it
 * would be pulled early and play faster than time.
 *
 * Why a rephase walks: a reply's first frame goes when its audio comes,
 * anywhere in the caller's period, and the clock must get back onto the
 * caller's phase. A move there is one interval up to half a period long
 * or short: a jitter the caller hears at the start of every reply, the
 * most of all our jitter. So after a rephase the timer serves the ticks,
 * each at most SLEW nearer the phase of the caller's latest frame (while
 * frames serve only what the timer left late), until a tick falls on it:
 * a few ms a frame, for a few extra wake-ups per reply.
 */
#include "pace_clock.h"

static uint64_t serve(struct pace_clock *k, int64_t now, int64_t upto, bool watch)
{
	if (k->next > upto)
		return 0;
	uint64_t ticks = (uint64_t)((upto - k->next) / k->period) + 1;

	/* Late ticks are dropped time: the clock moves past all of them. */
	k->next += (int64_t)ticks * k->period;
	k->last_served = now;
	k->watched = watch;
	return ticks;
}

/* A caller frame is due before at: the watchdog, not the timer, waits. */
static void watch_until(struct pace_clock *k, int64_t at)
{
	k->periodic = false;
	k->rearm = false;
	k->watch_at = at;
}

/* Nobody else will serve the ticks from next: the timer runs on them. */
static void tick_on(struct pace_clock *k)
{
	k->periodic = true;
	k->rearm = true;
}

/*
 * The frame at now found the clock off its phase: twice in a row, move it,
 * but not twice within MOVE_EVERY periods. A move drops or repeats up to
 * half a period of time; a caller whose frames keep landing just behind
 * our ticks (one we do not acknowledge at once, writing with Nagle on)
 * would otherwise make it every other frame, and the audio would lose a
 * fifth of its time. Two wake-ups a frame cost less than that.
 */
#define MOVE_EVERY 25

static void astray(struct pace_clock *k, int64_t now)
{
	if (++k->astray < 2)
		return;
	k->astray = 0;
	if (k->moved_at && now - k->moved_at < MOVE_EVERY * k->period)
		return;
	k->moved_at = now;
	k->next = now + k->period;
}

/* SLEW: how far a tick may move against the last, 2 ms of a 20 ms period. */
static int64_t slew_step(const struct pace_clock *k)
{
	return k->period / 10;
}

/* Ticks a rephase may take to walk: half a period at SLEW, and a few frames to learn from. */
#define SLEW_MAX 12

/* Where the caller's frames come against t: after it (> 0) or before, within half a period. */
static int64_t phase_err(const struct pace_clock *k, int64_t t)
{
	int64_t e = (k->target - t) % k->period, half = k->period / 2;

	if (e > half)
		e -= k->period;
	else if (e <= -half)
		e += k->period;
	return e;
}

/* A tick was served while walking: the next one a step nearer the caller's phase. */
static void slew(struct pace_clock *k)
{
	int64_t step = slew_step(k), e;

	if (++k->slew_ticks > SLEW_MAX) {
		k->slewing = false;	/* no phase to walk onto: the usual rules */
		return;
	}
	if (!k->target)
		return;
	e = phase_err(k, k->next);
	if (e > step)
		e = step;
	else if (e < -step)
		e = -step;
	else
		k->slewing = false;	/* this step lands on it */
	if (e) {
		k->next += e;
		k->rearm = true;
	}
}

void pace_clock_init(struct pace_clock *k, int64_t now, int64_t period)
{
	*k = (struct pace_clock){
		.period = period,
		.next = now + period,
		.last_served = now - period,
	};
	watch_until(k, k->next + period / 2);
}

uint64_t pace_clock_frame(struct pace_clock *k, int64_t now)
{
	int64_t half = k->period / 2, quarter = k->period / 4;
	int64_t gap = now - k->last_frame;
	uint64_t ticks = 0;

	bool rhythm = gap >= k->period - quarter && gap <= k->period + quarter;

	k->last_frame = now;
	k->lag = 0;		/* the caller is back: its frames serve on the ticks */
	if (!rhythm)
		k->astray = 0;	/* not in our rhythm (10 or 30 ms frames): no phase to follow */
	if (k->slewing) {
		/* The timer walks the ticks; a frame serves only what it left late. */
		k->target = rhythm ? now : 0;
		if (now - k->last_served < quarter || !(ticks = serve(k, now, now, false)))
			return 0;
		slew(k);
		return ticks;
	}
	if (now - k->last_served < quarter) {
		if (k->watched) {	/* the watchdog beat it to its tick */
			k->watched = false;	/* once: the next may be on time */
			astray(k, now);
		}
	} else if ((ticks = serve(k, now, k->next <= now ? now : now + half, false))) {
		int64_t off = k->next - k->period - now;	/* the last tick served */

		if (off > quarter || off < -quarter)
			astray(k, now);
		else
			k->astray = 0;
	}
	/* The caller is here (back from silence too): the next frame serves next. */
	watch_until(k, k->next + half);
	return ticks;
}

uint64_t pace_clock_watch(struct pace_clock *k, int64_t now)
{
	uint64_t ticks = serve(k, now, now, true);
	int64_t late = now - (k->next - k->period);	/* the tick just served */

	tick_on(k);
	/*
	 * That tick went up to half a period late. The timer's next, on
	 * time, would come as much early: a second jolt the caller hears
	 * each time its frames stop. The ticks walk back from that lateness
	 * instead, SLEW a period (frames, if they come back, serve on time).
	 */
	k->lag = ticks && late > slew_step(k) ? late - slew_step(k) : 0;
	return ticks;
}

uint64_t pace_clock_timer(struct pace_clock *k, int64_t now)
{
	uint64_t ticks = serve(k, now, now, false);

	if (ticks && k->lag) {
		k->lag = k->lag > slew_step(k) ? k->lag - slew_step(k) : 0;
		k->rearm = true;
	}
	if (ticks && k->slewing)
		slew(k);
	return ticks;
}

int64_t pace_clock_timer_at(const struct pace_clock *k)
{
	return k->next + k->lag;
}

void pace_clock_rephase(struct pace_clock *k, int64_t at)
{
	k->next = at;
	k->lag = 0;
	k->astray = 0;
	k->moved_at = 0;	/* the phase is anyone's now: following is free */
	k->slewing = true;
	k->slew_ticks = 0;
	/* The caller's latest frame, unless it is too old to tell its phase. */
	k->target = k->last_frame && at - k->last_frame < 2 * k->period ? k->last_frame : 0;
	tick_on(k);
}
