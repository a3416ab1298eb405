/*
 * shm.c - the shared-memory segment.
 *
 * POSIX shared memory (tmpfs), never a file on disk: the rings are written
 * fifty times a second per call and must not cause writeback.
 */
#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/vg_time.h"

const char *const stage_names[STAGE_MAX] = {
	"handoff", "stt_final", "llm_ttft", "tts_ttfb", "turn", "overhead",
};

const char *const api_endpoint_names[API_EP_MAX] = {
	"did_context", "create_booking", "bookings", "dispatch", "healthz", "metrics", "other",
};

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return (n + pg - 1) / pg * pg;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Maps len bytes at off of the segment read-write into m. */
static int map_range(struct shm_map *m, int shm_fd, uint64_t off, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->size = len;
	m->base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, (off_t)off);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		return -errno;
	}
	return 0;
}


void shm_name_for(const char *run_dir, char *name, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *p = run_dir; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(name, len, "/vagent.%08x", h);
}

static void layout(struct shm_header *h, uint32_t nslots, uint32_t nextra)
{
	size_t ring = ring_bytes(SHM_RING_SAMPLES);

	h->magic = SHM_MAGIC;
	h->major = SHM_MAJOR;
	h->minor = SHM_MINOR;
	h->header_size = sizeof(*h);
	h->nslots = nslots;
	h->nregions = nslots + nextra;
	h->ring_samples = SHM_RING_SAMPLES;
	h->recq_cap = SHM_RECQ_BYTES;
	h->ring_in_off = page_round(sizeof(struct slot));
	h->ring_out_off = h->ring_in_off + align64(ring);
	h->recq_off = page_round(h->ring_out_off + ring);
	h->slot_region_size = page_round(h->recq_off + recq_bytes(SHM_RECQ_BYTES));
	h->bell_off = page_round(sizeof(*h));
	h->api_off = h->bell_off + page_round(sizeof(struct bell));
	h->slots_off = h->api_off + page_round(sizeof(struct api_stats));
}

int shm_create(struct shm_map *m, const char *name, uint32_t nslots, uint32_t nextra,
	       int master_pid)
{
	struct shm_header tmp = { 0 };

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	snprintf(m->name, sizeof(m->name), "%s", name);
	layout(&tmp, nslots, nextra);
	m->size = tmp.slots_off + (size_t)tmp.nregions * tmp.slot_region_size;

	shm_unlink(name);	/* a stale segment from a crashed master */
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)m->size) < 0) {
		int err = -errno;
		close(fd);
		shm_unlink(name);
		return err;
	}
	m->base = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m->base == MAP_FAILED) {
		int err = -errno;
		close(fd);
		shm_unlink(name);
		m->base = NULL;
		return err;
	}
	m->fd = fd;
	struct shm_header *h = shm_hdr(m);
	*h = tmp;	/* ftruncate zero-filled the rest: slots start EMPTY */
	h->master_pid = master_pid;
	h->birth_real_ns = real_ns();
	h->capacity = nslots;
	for (uint32_t i = 0; i < h->nregions; i++) {
		char *region = (char *)m->base + h->slots_off + i * h->slot_region_size;
		ring_init(slot_ring_in(region, h), h->ring_samples);
		ring_init(slot_ring_out(region, h), h->ring_samples);
		recq_init(region_recq(region, h), h->recq_cap, i);
	}
	return 0;
}

static int open_existing(struct shm_map *m, const char *name, bool rw, char *err,
			 size_t errlen)
{
	struct stat st;

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->fd = shm_open(name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
	if (m->fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "shared memory %s: %s (is vagentd running?)",
			 name, strerror(errno));
		return rc;
	}
	if (fstat(m->fd, &st) < 0 || (size_t)st.st_size < sizeof(struct shm_header)) {
		snprintf(err, errlen, "shared memory %s: too small", name);
		shm_unmap(m);
		return -EINVAL;
	}
	m->size = (size_t)st.st_size;
	m->base = mmap(NULL, m->size, rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
		       m->fd, 0);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		snprintf(err, errlen, "shared memory %s: mmap: %s", name, strerror(errno));
		shm_unmap(m);
		return -EIO;
	}
	const struct shm_header *h = shm_hdr(m);
	if (h->magic != SHM_MAGIC || h->major != SHM_MAJOR ||
	    h->nregions < h->nslots ||
	    h->slots_off + (uint64_t)h->nregions * h->slot_region_size > m->size) {
		snprintf(err, errlen, "shared memory %s: unknown layout (magic %08x, version %u)",
			 name, h->magic, h->major);
		shm_unmap(m);
		return -EPROTO;
	}
	return 0;
}

int shm_open_ro(struct shm_map *m, const char *name, char *err, size_t errlen)
{
	return open_existing(m, name, false, err, errlen);
}

int shm_open_rw(struct shm_map *m, const char *name, char *err, size_t errlen)
{
	return open_existing(m, name, true, err, errlen);
}

int shm_claim_producer(const struct shm_map *m, int pid)
{
	const struct shm_header *h = shm_hdr(m);

	for (uint32_t i = h->nslots + SHM_API_REGIONS; i < h->nregions; i++) {
		struct recq *q = shm_recq(m, i);
		int32_t owner = atomic_load(&q->owner_pid);
		if (owner && (kill(owner, 0) == 0 || errno != ESRCH))
			continue;
		if (atomic_compare_exchange_strong(&q->owner_pid, &owner, pid))
			return (int)i;
	}
	return -EBUSY;
}

int shm_map_slot(struct shm_map *sm, int shm_fd, const struct shm_header *h, uint32_t i)
{
	return map_range(sm, shm_fd, h->slots_off + i * h->slot_region_size, h->slot_region_size);
}

int shm_map_bell(struct shm_map *bm, int shm_fd, const struct shm_header *h)
{
	return map_range(bm, shm_fd, h->bell_off, page_round(sizeof(struct bell)));
}

struct bell *shm_bell(const struct shm_map *m)
{
	return (struct bell *)((char *)m->base + shm_hdr(m)->bell_off);
}

struct api_stats *shm_api_stats(const struct shm_map *m)
{
	return (struct api_stats *)((char *)m->base + shm_hdr(m)->api_off);
}

int shm_map_api_stats(struct shm_map *am, int shm_fd, const struct shm_header *h)
{
	return map_range(am, shm_fd, h->api_off, page_round(sizeof(struct api_stats)));
}

void shm_unmap(struct shm_map *m)
{
	if (!m)
		return;
	if (m->base)
		munmap(m->base, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->base = NULL;
	m->fd = -1;
}

struct slot *shm_slot(const struct shm_map *m, uint32_t i)
{
	const struct shm_header *h = shm_hdr(m);
	return (struct slot *)((char *)m->base + h->slots_off + i * h->slot_region_size);
}

struct ring *slot_ring_in(void *region, const struct shm_header *h)
{
	return (struct ring *)((char *)region + h->ring_in_off);
}

struct ring *slot_ring_out(void *region, const struct shm_header *h)
{
	return (struct ring *)((char *)region + h->ring_out_off);
}

struct recq *region_recq(void *region, const struct shm_header *h)
{
	return (struct recq *)((char *)region + h->recq_off);
}

struct recq *shm_recq(const struct shm_map *m, uint32_t i)
{
	return region_recq(shm_slot(m, i), shm_hdr(m));
}

void slot_write_begin(struct slot *s)
{
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

void slot_write_end(struct slot *s)
{
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
}

int slot_read(const struct slot *s, struct slot_info *out)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t a = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (a & 1)
			continue;
		memcpy(out, &s->info, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) == a)
			return 0;
	}
	return -EAGAIN;
}
