/*
 * bw_stats.h - the booking-writer's statistics section in shared memory.
 *
 * Owns: the layout of the "writer" section: whether the writer runs and
 * reaches MariaDB, its record counters, its backlog and two latency
 * histograms. The supervisor renders it into the metrics file, vagentctl
 * status prints it and the api's /healthz reads it.
 *
 * Written by the booking-writer only (the supervisor's memfd starts it at
 * zero); everyone else maps it read-only, and a worker cannot reach it
 * (ipc/shm.h, Trust). A field added here changes the section's size, and
 * readers built before it refuse the segment instead of misreading it.
 */
#ifndef VG_BW_STATS_H
#define VG_BW_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "../../ipc/hist.h"
#include "../../ipc/shm.h"

struct bw_stats {
	_Atomic int32_t pid;		/* the writer running now; 0 when none */
	_Atomic uint32_t db_up;
	_Atomic uint64_t journaled_total;
	_Atomic uint64_t committed_total;
	_Atomic uint64_t dead_total;
	_Atomic uint64_t backlog;	/* journaled, not yet committed */
	_Atomic uint64_t journal_bytes;
	struct hist commit;		/* one MariaDB transaction */
	struct hist fsync;		/* one journal group commit */
};

#define BW_STATS_VERSION 1

static const struct shm_section_spec bw_stats_section = {
	"writer", BW_STATS_VERSION, SHM_SCOPE_SEGMENT, sizeof(struct bw_stats)
};

#endif
