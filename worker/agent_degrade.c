/*
 * agent_degrade.c - the agent's side of the providers' breakers: what it
 * reports, and which degraded mode a call is in.
 *
 * Outcomes are reported where the agent learns them (its provider event
 * handlers): every error and timeout, and a stage's first success of the
 * call (and again after a failure), so a busy stage costs one atomic per
 * call, not one per token. A degraded mode, once entered, lasts for the
 * rest of the call: the caller hears one voice and one kind of dialog.
 * The call record carries the modes in its latency JSON ("degraded").
 */
#include <stdatomic.h>

#include "../common/log.h"
#include "../common/vg_time.h"
#include "agent.h"
#include "breaker.h"
#include "worker.h"

void agent_report(struct agent *a, int stage, bool ok)
{
	struct brk_section *b = a->w->breaker;
	struct brk_limits l;
	unsigned bit = 1u << stage;

	if (!b || (unsigned)stage >= BRK_NSTAGES || (ok && (a->reported_ok & bit)))
		return;
	a->reported_ok = ok ? a->reported_ok | bit : a->reported_ok & ~bit;
	brk_limits_from(a->conf, &l);
	uint32_t before = atomic_load(&b->st[stage].state);
	brk_report(b, &l, stage, ok, mono_ns());
	uint32_t after = atomic_load(&b->st[stage].state);
	if (after != before)
		log_warn("agent", a->uuid, "%s breaker %s -> %s", brk_stage_name(stage),
			 brk_state_name(before), brk_state_name(after));
}

bool agent_stage_down(const struct agent *a, int stage)
{
	return a->w->breaker && (unsigned)stage < BRK_NSTAGES &&
	       atomic_load(&a->w->breaker->st[stage].state) == BRK_OPEN;
}

void agent_degrade(struct agent *a, int stage, const char *why)
{
	unsigned bit = 1u << stage;

	if ((unsigned)stage >= BRK_NSTAGES || (a->degraded & bit))
		return;
	a->degraded |= bit;
	if (a->w->breaker)
		atomic_fetch_add_explicit(&a->w->breaker->st[stage].degraded_total, 1,
					  memory_order_relaxed);
	log_warn("agent", a->uuid, "degraded: %s (%s)", brk_stage_name(stage), why);
}

json_t *agent_degraded_json(const struct agent *a)
{
	json_t *list = json_array();

	for (int s = 0; s < BRK_NSTAGES; s++)
		if (a->degraded & (1u << s))
			json_array_append_new(list, json_string(brk_stage_name(s)));
	return list;
}
