/*
 * shm.h - the shared-memory segment: header, worker slots, audio rings.
 *
 * Owns: the segment's layout (a versioned ABI read by vagentctl), creating
 * and mapping it, and the seqlock that lets tools read a slot's call
 * details without tearing. No pointers live in the segment, only offsets.
 *
 * Writers: the supervisor writes the header; each worker writes its own
 * slot, and the supervisor writes a slot only while no worker owns it
 * (before the fork, after the reap); each section has the one writer its
 * owner's header names. Readers (vagentctl, the supervisor's metrics)
 * never block a writer.
 *
 * Layout: [header, one page] [doorbell, one page]
 *         [SEGMENT sections, each on pages of its own]
 *         [region 0] ... [region N-1]
 * Regions 0..nslots-1 belong to worker slots; the nextra regions after them
 * to other producers of records: first SHM_API_REGIONS for the api process
 * (a reload runs a new api beside the old one, each with its own queue, so
 * that every queue keeps a single producer), then local tools. A region is
 * page aligned: struct slot, the REGION sections, the caller->agent ring,
 * the agent->caller ring, then the region's record queue. A worker maps
 * only its own region.
 *
 * Sections: this layer knows regions, rings and queues, never what a
 * process counts. Each owner describes its statistics (name, version,
 * scope, size) in its own header; the supervisor lays the list out at
 * shm_create() into a directory in the header, and every reader looks its
 * section up by name and refuses one whose version or size is not what it
 * was built with. So a new stage or endpoint touches its owner's header
 * only (Varnish's VSM gives each subsystem a named section the same way).
 * A REGION section has a copy in every region, so that a worker, which
 * maps its own region alone, writes its own statistics; what it writes
 * there is input to the readers like the rest of its region.
 * The directory is written before the first fork and never again; readers
 * still bound every entry by the layout around it.
 *
 * No name: the segment is a memfd, reached only through a descriptor. The
 * supervisor creates it and its children inherit it across fork(); a worker
 * maps its own region and the doorbell, then unmaps the rest and closes the
 * descriptor. Its size is sealed. Tools (vagentctl, vagent-recload) find it
 * in /proc/<vagentd pid>/fd, which only root may read because vagentd is
 * not dumpable (prctl PR_SET_DUMPABLE 0, inherited by every child).
 *
 * Trust (workers run as the same uid as the supervisor, so uid alone
 * separates nothing). A compromised worker CAN: write anything into its own
 * region (its slot, its rings, its record queue: all input to the readers,
 * which bound every index and size they take from there) and the doorbell;
 * lie in its slot's info and heartbeat (in its own favour only); send any
 * bytes on its channel (the supervisor kills it for a malformed message or
 * a descriptor); connect to control.sock and signal processes of its uid
 * (stop or disrupt the service: availability is not protected). It CANNOT:
 * open the segment (no name; /proc/<pid>/fd and ptrace of the supervisor,
 * the booking-writer, the api and other workers are refused, none being
 * dumpable), so it cannot read other calls' audio or details, write other
 * regions, the header or other producers' queues; resize the segment
 * (sealed); leave descriptors in the supervisor; hold a slot by stalling
 * (the watchdog); grow its own mappings over other regions with mremap()
 * (mseal, on kernels from 6.10 only: before that, a worker's region
 * mapping can be grown over the regions after its own). Keeping it from
 * the control socket and from signals would need a separate uid for
 * workers.
 */
#ifndef VG_SHM_H
#define VG_SHM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bell.h"
#include "recq.h"
#include "ring.h"

#define SHM_MAGIC 0x56414731u		/* "VAG1" */
/*
 * 1.1: slot heartbeat_ns; 1.2: queue lost range and condemn words, two api
 * regions; 2.0: a directory of named sections in the header.
 */
#define SHM_MAJOR 2
#define SHM_MINOR 0
#define SHM_RING_SAMPLES 65536u		/* per direction: 8 s at 8 kHz */
#define SHM_RECQ_BYTES (256u * 1024)	/* per producer: records of up to 64 KiB */
#define SHM_API_REGIONS 2		/* regions nslots, nslots+1: the api's */
#define SHM_SECTIONS_MAX 8
#define SHM_SECTION_NAME 16		/* with its NUL */

/* Where a section lives. */
enum shm_scope {
	SHM_SCOPE_SEGMENT = 1,	/* once, on pages of its own after the doorbell */
	SHM_SCOPE_REGION,	/* in every region, after struct slot */
};

/*
 * An owner's description of its section, in the owner's header; the
 * supervisor hands the list to shm_create() and every reader looks its
 * section up with the same description.
 */
struct shm_section_spec {
	const char *name;
	uint32_t version;	/* the owner's: bump when the layout changes, not only the size */
	uint32_t scope;		/* enum shm_scope */
	uint64_t size;
};

/* One entry of the header's directory. */
struct shm_section {
	char name[SHM_SECTION_NAME];
	uint32_t version;
	uint32_t scope;
	uint64_t off;		/* SEGMENT: from the segment, page aligned; */
	uint64_t size;		/* REGION: from each region, 64-byte aligned */
};

enum slot_state {
	SLOT_EMPTY = 0,		/* no process */
	SLOT_STARTING,		/* forked, not ready yet */
	SLOT_IDLE,		/* waiting for a call */
	SLOT_BUSY,		/* in a call */
	SLOT_RETIRING,		/* finishing, will not take another call */
};

struct shm_header {
	uint32_t magic;
	uint16_t major, minor;
	uint32_t header_size;
	uint32_t nslots;		/* worker slots: regions 0..nslots-1 */
	uint32_t nregions;		/* nslots + extra producer regions */
	uint64_t slot_region_size;	/* stride between regions */
	uint64_t bell_off;		/* the writer's doorbell page */
	uint64_t slots_off;		/* offset of region 0 from the segment */
	uint64_t ring_in_off;		/* caller->agent ring, within a region */
	uint64_t ring_out_off;		/* agent->caller ring, within a region */
	uint64_t recq_off;		/* record queue, within a region */
	uint32_t recq_cap;
	uint32_t ring_samples;
	int32_t master_pid;
	int64_t birth_real_ns;

	/* Mirrors of the supervisor's private state, for tools. */
	_Atomic uint32_t generation;
	_Atomic uint32_t draining;
	_Atomic uint32_t capacity;
	_Atomic uint32_t active;
	_Atomic uint32_t idle;
	_Atomic uint64_t calls_total;
	_Atomic uint64_t rejected_total;
	_Atomic uint64_t failed_total;
	_Atomic uint64_t restarts_total;

	/* The owners' sections: written by shm_create() only. */
	uint32_t nsections;
	struct shm_section sections[SHM_SECTIONS_MAX];
};

/* The part of a slot guarded by the sequence counter. */
struct slot_info {
	uint32_t state;			/* enum slot_state */
	int32_t pid;
	uint32_t generation;
	uint32_t rate;			/* the call's sample rate */
	int64_t start_real_ns;		/* call start, for display */
	int64_t start_mono_ns;		/* call start, for durations */
	char uuid[40];
	char did[32];
	char cli[32];
	char engine[16];
};

struct slot {
	_Alignas(64) _Atomic uint32_t seq;	/* odd while info is being written */
	struct slot_info info;

	/*
	 * CLOCK_MONOTONIC of the worker loop's last turn, stamped every
	 * second. The supervisor's watchdog reads it as a hint (a worker can
	 * only lie in its own favour) and bounds it by what it knows itself.
	 */
	_Alignas(64) _Atomic int64_t heartbeat_ns;
};

/* A mapped segment (whole, or one slot region). */
struct shm_map {
	void *base;
	size_t size;
	int fd;
	char name[64];
};

/*
 * The memfd's name (as /proc shows it), derived from the run directory so
 * that tools can tell instances apart. A label, not a way in.
 */
void shm_name_for(const char *run_dir, char *name, size_t len);

/*
 * Supervisor: creates an anonymous segment (memfd) with the sections in
 * secs laid out in its directory, sizes, seals, initialises. -EINVAL for
 * more than SHM_SECTIONS_MAX sections, a name that is empty, too long or
 * given twice, an unknown scope or a size of 0.
 */
int shm_create(struct shm_map *m, const char *name, uint32_t nslots, uint32_t nextra,
	       int master_pid, const struct shm_section_spec *secs, size_t nsecs);

/*
 * Finds want in the directory of h: 0 and *out; -ENOENT when no section
 * has its name; -EPROTO when the version, scope or size differ (the
 * segment comes from another build); -ERANGE when the entry lies outside
 * its area. err (may be NULL) says which, naming the section.
 */
int shm_section_find(const struct shm_header *h, const struct shm_section_spec *want,
		     const struct shm_section **out, char *err, size_t errlen);

/* A SEGMENT section in a whole-segment mapping: shm_section_find(), then its address. */
int shm_section_get(const struct shm_map *m, const struct shm_section_spec *want, void **out,
		    char *err, size_t errlen);

/* A REGION section (found by shm_section_find()) in a region, given its base. */
void *shm_region_section(void *region, const struct shm_section *s);

/* The owner of a SEGMENT section: maps its pages read-write. */
int shm_map_section(struct shm_map *sm, int shm_fd, const struct shm_section *s);

/*
 * vagentctl: maps the segment of the vagentd whose pidfile is in run_dir,
 * read-only, through /proc/<pid>/fd (root only), and checks its header.
 */
int shm_open_ro(struct shm_map *m, const char *run_dir, char *err, size_t errlen);

/* Local tools that produce records: the same, read-write. */
int shm_open_rw(struct shm_map *m, const char *run_dir, char *err, size_t errlen);

/*
 * A tool claims one of the extra producer regions (never the first
 * SHM_API_REGIONS, which are the api's) for itself: the first whose owner
 * is unset or dead. 0 and its index in *region, or -EBUSY when all are
 * taken.
 */
int shm_claim_producer(const struct shm_map *m, int pid, uint32_t *region);

/* A producer: maps region i read-write from the segment's fd. */
int shm_map_slot(struct shm_map *slot_map, int shm_fd, const struct shm_header *h,
		 uint32_t i);

/* A producer: maps the doorbell page read-write. */
int shm_map_bell(struct shm_map *bell_map, int shm_fd, const struct shm_header *h);

/* The doorbell in a whole-segment mapping. */
struct bell *shm_bell(const struct shm_map *m);

/*
 * A worker: seals a mapping (mseal, Linux 6.10+) so that it cannot be
 * grown with mremap() over the regions after it. 0, or -ENOSYS on older
 * kernels, where that remains possible (see the trust note above).
 */
int shm_seal_map(const struct shm_map *m);

void shm_unmap(struct shm_map *m);

static inline struct shm_header *shm_hdr(const struct shm_map *m)
{
	return (struct shm_header *)m->base;
}

/* Slot i of a whole-segment mapping. */
struct slot *shm_slot(const struct shm_map *m, uint32_t i);

/* Rings and queue of a region, given the region's base address. */
struct ring *slot_ring_in(void *region, const struct shm_header *h);
struct ring *slot_ring_out(void *region, const struct shm_header *h);
struct recq *region_recq(void *region, const struct shm_header *h);

/* Region i's queue in a whole-segment mapping. */
struct recq *shm_recq(const struct shm_map *m, uint32_t i);

/* Seqlock writer: call begin, change s->info, call end. */
void slot_write_begin(struct slot *s);
void slot_write_end(struct slot *s);

/* Seqlock reader: consistent copy of s->info; -EAGAIN if it kept changing. */
int slot_read(const struct slot *s, struct slot_info *out);

#endif
