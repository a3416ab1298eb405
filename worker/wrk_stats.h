/*
 * wrk_stats.h - a worker's statistics: the per-call stages and the
 * "worker" section, one copy in every region of the segment.
 *
 * Owns: the stages a call's latency is measured in (their order and their
 * names, which are the "stage" label of vagent_stage_latency_seconds and
 * the keys of vagentctl latency) and the layout of the section: frame and
 * call counters and one histogram per stage. A new stage is one line of
 * WRK_STAGES: the enum, the names and the section's size follow, and
 * readers built before it refuse the segment (ipc/shm.h checks the size).
 *
 * Written by the worker of the region only (single writer, relaxed
 * atomics). Everything in it is input to its readers (the supervisor's
 * metrics, vagentctl), since a worker can write any value there: they only
 * sum counters and buckets, and take no index or size from it.
 */
#ifndef VG_WRK_STATS_H
#define VG_WRK_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "../ipc/hist.h"
#include "../ipc/shm.h"

/* X(enum suffix, name): the order is the section's layout. */
#define WRK_STAGES(X)							\
	X(HANDOFF, "handoff")	/* accept() in the supervisor to fd in the worker */ \
	X(STT_FINAL, "stt_final")	/* caller's end of speech to final transcript */ \
	X(LLM_TTFT, "llm_ttft")	/* LLM request to first token */	\
	X(TTS_TTFB, "tts_ttfb")	/* TTS request to first audio byte */	\
	X(TURN, "turn")		/* caller's end of speech to first agent frame */ \
	X(OVERHEAD, "overhead")	/* vagent's own share of a turn: the hops between stages */

#define WRK_STAGE_ENUM(id, name) STAGE_##id,
enum stage {
	WRK_STAGES(WRK_STAGE_ENUM)
	STAGE_MAX
};
#undef WRK_STAGE_ENUM

static inline const char *stage_name(enum stage st)
{
#define WRK_STAGE_NAME(id, name) name,
	static const char *const names[STAGE_MAX] = { WRK_STAGES(WRK_STAGE_NAME) };
#undef WRK_STAGE_NAME
	return (unsigned)st < STAGE_MAX ? names[st] : "?";
}

struct wrk_stats {
	/* Counters: single writer, relaxed; the first three never reset. */
	_Atomic uint64_t frames_in;
	_Atomic uint64_t frames_out;
	_Atomic uint64_t calls;
	_Atomic uint64_t call_frames_in;	/* this call; reset per call */
	_Atomic uint64_t call_frames_out;
	struct hist hist[STAGE_MAX];
};

#define WRK_STATS_VERSION 1

static const struct shm_section_spec wrk_stats_section = {
	"worker", WRK_STATS_VERSION, SHM_SCOPE_REGION, sizeof(struct wrk_stats)
};

#endif
