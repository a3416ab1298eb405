/*
 * breaker.c - the shared circuit breakers' transitions (breaker.h).
 *
 * Every change is one compare-and-swap on a stage's state word, so two
 * workers reporting at once make one transition, never two: one opens a
 * closed stage, one takes the probe of a cooled one. The counts in the
 * buckets are approximate only at a bucket's edge (a failure counted into
 * a slot that another worker is just moving on), which a breaker can bear.
 *
 * Never: blocks, allocates or logs; callers log what they decide.
 */
#include "breaker.h"

#include "../common/conf.h"
#include "../common/vg_time.h"

#define BRK_COUNT_BITS 20
#define BRK_COUNT_MASK ((1ull << BRK_COUNT_BITS) - 1)

void brk_limits_from(const struct conf *c, struct brk_limits *l)
{
	l->failures = c->breaker_failures;
	l->window_ns = (int64_t)c->breaker_window * NS_PER_S;
	l->cooldown_ns = (int64_t)c->breaker_cooldown * NS_PER_S;
}

/* The time slot of now: BRK_BUCKETS of them make the window. */
static uint64_t slot_of(const struct brk_limits *l, int64_t now)
{
	int64_t width = l->window_ns / BRK_BUCKETS;

	return (uint64_t)(now / (width > 0 ? width : 1));
}

unsigned brk_recent(const struct brk_section *b, const struct brk_limits *l, enum brk_stage s,
		    int64_t now)
{
	uint64_t cur = slot_of(l, now);
	unsigned n = 0;

	if (!b)
		return 0;
	for (int i = 0; i < BRK_BUCKETS; i++) {
		uint64_t v = atomic_load_explicit(&b->st[s].bucket[i], memory_order_relaxed);
		uint64_t slot = v >> BRK_COUNT_BITS;
		if (slot <= cur && cur - slot < BRK_BUCKETS)
			n += (unsigned)(v & BRK_COUNT_MASK);
	}
	return n;
}

static void count_failure(struct brk_stage_state *st, uint64_t slot)
{
	_Atomic uint64_t *w = &st->bucket[slot % BRK_BUCKETS];
	uint64_t v = atomic_load_explicit(w, memory_order_relaxed), nv;

	do {
		if (v >> BRK_COUNT_BITS != slot)
			nv = slot << BRK_COUNT_BITS | 1;	/* a new slot: start it at one */
		else if ((v & BRK_COUNT_MASK) == BRK_COUNT_MASK)
			return;				/* saturated */
		else
			nv = v + 1;
	} while (!atomic_compare_exchange_weak_explicit(w, &v, nv, memory_order_relaxed,
							memory_order_relaxed));
}

/* from -> OPEN; true if this caller made the change. */
static bool open_from(struct brk_stage_state *st, uint32_t from, int64_t now)
{
	/* The time first: whoever sees OPEN must not see it cooled already. */
	atomic_store(&st->since_ns, now);
	if (!atomic_compare_exchange_strong(&st->state, &from, BRK_OPEN))
		return false;
	atomic_fetch_add_explicit(&st->opened_total, 1, memory_order_relaxed);
	return true;
}

void brk_report(struct brk_section *b, const struct brk_limits *l, enum brk_stage s, bool ok,
		int64_t now)
{
	if (!b || (unsigned)s >= BRK_NSTAGES)
		return;
	struct brk_stage_state *st = &b->st[s];
	uint32_t state = atomic_load(&st->state);

	if (ok) {
		atomic_fetch_add_explicit(&st->successes_total, 1, memory_order_relaxed);
		/* Only the probe's answer closes: an older call's success says
		 * nothing of the failures that opened the stage after it began. */
		if (state == BRK_HALF_OPEN &&
		    atomic_compare_exchange_strong(&st->state, &state, BRK_CLOSED))
			for (int i = 0; i < BRK_BUCKETS; i++)
				atomic_store_explicit(&st->bucket[i], 0, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&st->failures_total, 1, memory_order_relaxed);
	count_failure(st, slot_of(l, now));
	if (state == BRK_HALF_OPEN)
		open_from(st, BRK_HALF_OPEN, now);	/* the probe (or a call in progress) failed */
	else if (state == BRK_CLOSED && brk_recent(b, l, s, now) >= (unsigned)l->failures)
		open_from(st, BRK_CLOSED, now);
}

/* Whether s is down at now and no probe can be given (yet). */
static bool down_for_now(const struct brk_stage_state *st, const struct brk_limits *l,
			 int64_t now)
{
	uint32_t state = atomic_load(&st->state);

	/* OPEN: cooling down; HALF_OPEN: a probe is out (a lost one expires
	 * after another cool-down: a probe call may end before it used the stage). */
	return state != BRK_CLOSED && now - atomic_load(&st->since_ns) < l->cooldown_ns;
}

/* Gives this call the probe of a cooled stage; false if another call took it. */
static bool take_probe(struct brk_stage_state *st, const struct brk_limits *l, int64_t now)
{
	uint32_t state = atomic_load(&st->state);
	int64_t since = atomic_load(&st->since_ns);

	if (state == BRK_CLOSED)
		return true;
	if (now - since < l->cooldown_ns)
		return false;
	/* Claimed by moving the time: a second caller sees it fresh, not cooled. */
	if (!atomic_compare_exchange_strong(&st->since_ns, &since, now))
		return false;
	if (state == BRK_OPEN)
		atomic_compare_exchange_strong(&st->state, &state, BRK_HALF_OPEN);
	return true;
}

unsigned brk_route(struct brk_section *b, const struct brk_limits *l, int64_t now)
{
	unsigned down = 0;

	if (!b)
		return 0;
	for (int s = 0; s < BRK_NSTAGES; s++)
		if (down_for_now(&b->st[s], l, now))
			down |= 1u << s;
	if (down)
		return down;
	for (int s = 0; s < BRK_NSTAGES; s++)
		if (!take_probe(&b->st[s], l, now))
			down |= 1u << s;
	return down;
}
