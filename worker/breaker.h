/*
 * breaker.h - one circuit breaker per provider stage (stt, llm, tts),
 * shared by every worker: the "breaker" section of the segment.
 *
 * Owns: whether a stage is failing, from the outcomes the calls report:
 * recent failures (errors and timeouts) in a window of BRK_BUCKETS time
 * buckets; K of them open the stage; after the cool-down one call is let
 * through as a probe (half-open); its success closes the stage, a failure
 * opens it again. At call start the call runtime asks brk_route() which
 * stages are down: with an overflow engine configured the call goes there,
 * otherwise the local engine runs in the degraded modes (agent_script.c,
 * tts_espeak.c, agent_handoff.c). Calls in progress degrade on their own
 * errors. Also counts degraded and overflowed calls for the metrics.
 *
 * Why shared memory and atomics: one call per process, so only a segment
 * every worker maps can see "the last K calls failed". Each bucket packs
 * its time slot and its count in one word, so a worker moving a bucket to
 * a new slot and another counting into it never lose each other's update
 * (compare-and-swap). CLOCK_MONOTONIC is one clock for every process.
 *
 * Trust: every worker writes this section (SEGMENT scope, mapped by each
 * worker), so a compromised worker can open or close a breaker: it can
 * already disrupt the service (ipc/shm.h, Trust). Readers (metrics,
 * vagentctl) only print its numbers and take no index from it.
 */
#ifndef VG_BREAKER_H
#define VG_BREAKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../ipc/shm.h"

enum brk_stage { BRK_STT = 0, BRK_LLM, BRK_TTS, BRK_NSTAGES };

enum brk_state { BRK_CLOSED = 0, BRK_OPEN, BRK_HALF_OPEN };

#define BRK_BUCKETS 8

struct brk_stage_state {
	_Alignas(64) _Atomic uint32_t state;	/* enum brk_state */
	_Atomic int64_t since_ns;	/* OPEN: opened at; HALF_OPEN: probe given at */
	_Atomic uint64_t bucket[BRK_BUCKETS];	/* slot << BRK_COUNT_BITS | failures */
	_Atomic uint64_t failures_total, successes_total, opened_total;
	_Atomic uint64_t degraded_total;	/* calls that ran degraded for this stage */
};

struct brk_section {
	struct brk_stage_state st[BRK_NSTAGES];
	_Atomic uint64_t overflow_total;	/* calls sent to the overflow engine */
};

#define BRK_VERSION 1

static const struct shm_section_spec brk_section_spec = {
	"breaker", BRK_VERSION, SHM_SCOPE_SEGMENT, sizeof(struct brk_section)
};

/* From [breaker]: failures that open a stage within window_ns; cool-down. */
struct brk_limits {
	int failures;
	int64_t window_ns;
	int64_t cooldown_ns;
};

struct conf;
void brk_limits_from(const struct conf *c, struct brk_limits *l);

/* Inline: the readers (vagentctl) do not link the worker. */
static inline const char *brk_stage_name(int s)
{
	static const char *const names[BRK_NSTAGES] = { "stt", "llm", "tts" };

	return (unsigned)s < BRK_NSTAGES ? names[s] : "?";
}

static inline const char *brk_state_name(uint32_t state)
{
	static const char *const names[] = { "closed", "open", "half-open" };

	return state <= BRK_HALF_OPEN ? names[state] : "?";
}

/* An outcome of stage s at now (CLOCK_MONOTONIC). NULL b is fine (no section). */
void brk_report(struct brk_section *b, const struct brk_limits *l, enum brk_stage s, bool ok,
		int64_t now);

/*
 * At call start: the stages this call must do without, as a bit mask
 * (1u << stage). A stage whose cool-down has passed is given to this call
 * as its probe (half-open), unless another stage is down anyway: a probe
 * is only given to a call that will use every provider.
 */
unsigned brk_route(struct brk_section *b, const struct brk_limits *l, int64_t now);

/* Failures of s within the window at now (for tools and tests). */
unsigned brk_recent(const struct brk_section *b, const struct brk_limits *l, enum brk_stage s,
		    int64_t now);

#endif
