/*
 * shm.c - the shared-memory segment.
 *
 * A memfd (shmem, like POSIX shared memory), never a file on disk: the
 * rings are written fifty times a second per call and must not cause
 * writeback. It has no name in any namespace (see shm.h for why).
 */
#include "shm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/vg_time.h"

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
	snprintf(name, len, "vagent.%08x", h);
}

/* Refuses a list shm_create() cannot lay out. */
static int sections_ok(const struct shm_section_spec *secs, size_t nsecs)
{
	if (nsecs > SHM_SECTIONS_MAX || (nsecs && !secs))
		return -EINVAL;
	for (size_t i = 0; i < nsecs; i++) {
		const struct shm_section_spec *a = &secs[i];
		size_t len = a->name ? strlen(a->name) : 0;
		if (!len || len >= SHM_SECTION_NAME || !a->size || a->size > (1ull << 32) ||
		    (a->scope != SHM_SCOPE_SEGMENT && a->scope != SHM_SCOPE_REGION))
			return -EINVAL;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(secs[k].name, a->name))
				return -EINVAL;
	}
	return 0;
}

/*
 * Copies secs into the directory. REGION sections follow struct slot in
 * every region; SEGMENT sections start at *seg_off, each on pages of its
 * own so that its owner can map it writable without its neighbours.
 * Returns where the REGION sections end; *seg_off moves past the others.
 */
static size_t place_sections(struct shm_header *h, const struct shm_section_spec *secs,
			     size_t nsecs, uint64_t *seg_off)
{
	size_t region_end = align64(sizeof(struct slot));

	h->nsections = (uint32_t)nsecs;
	for (size_t i = 0; i < nsecs; i++) {
		struct shm_section *d = &h->sections[i];
		snprintf(d->name, sizeof(d->name), "%s", secs[i].name);
		d->version = secs[i].version;
		d->scope = secs[i].scope;
		d->size = secs[i].size;
		if (d->scope == SHM_SCOPE_REGION) {
			d->off = region_end;
			region_end = align64(region_end + d->size);
		} else {
			d->off = *seg_off;
			*seg_off += page_round(d->size);
		}
	}
	return region_end;
}

static void layout(struct shm_header *h, uint32_t nslots, uint32_t nextra,
		   const struct shm_section_spec *secs, size_t nsecs)
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
	h->bell_off = page_round(sizeof(*h));
	uint64_t seg_off = h->bell_off + page_round(sizeof(struct bell));
	h->ring_in_off = page_round(place_sections(h, secs, nsecs, &seg_off));
	h->ring_out_off = h->ring_in_off + align64(ring);
	h->recq_off = page_round(h->ring_out_off + ring);
	h->slot_region_size = page_round(h->recq_off + recq_bytes(SHM_RECQ_BYTES));
	h->slots_off = seg_off;
}

int shm_create(struct shm_map *m, const char *name, uint32_t nslots, uint32_t nextra,
	       int master_pid, const struct shm_section_spec *secs, size_t nsecs)
{
	struct shm_header tmp = { 0 };
	int rc;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if ((rc = sections_ok(secs, nsecs)) < 0)
		return rc;
	snprintf(m->name, sizeof(m->name), "%s", name);
	layout(&tmp, nslots, nextra, secs, nsecs);
	m->size = tmp.slots_off + (size_t)tmp.nregions * tmp.slot_region_size;

	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Sealed size: no holder of the fd can shrink it under our mappings (SIGBUS). */
	if (ftruncate(fd, (off_t)m->size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	m->base = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m->base == MAP_FAILED) {
		int err = -errno;
		close(fd);
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

/* The pid in run_dir/vagentd.pid: 0 and *pid, or -errno. */
static int read_pidfile(const char *run_dir, int *pid, char *err, size_t errlen)
{
	char path[PATH_MAX + 16], buf[32];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/vagentd.pid", run_dir);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s (is vagentd running?)", path, strerror(errno));
		return rc;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	long v = strtol(buf, NULL, 10);
	if (v <= 1 || v > INT_MAX) {
		snprintf(err, errlen, "%s: no pid in it (is vagentd running?)", path);
		return -ESRCH;
	}
	*pid = (int)v;
	return 0;
}

/*
 * Opens the descriptor of vagentd (pid) whose link reads
 * "/memfd:<name> (deleted)": the segment, by the only route there is.
 * 0 and *out, or -errno.
 */
static int open_by_proc(int pid, const char *name, bool rw, int *out, char *err,
			size_t errlen)
{
	char dir[64], link[PATH_MAX], want[128], path[128];
	struct dirent *de;
	int fd = -1, rc = -ENOENT;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	snprintf(want, sizeof(want), "/memfd:%s (deleted)", name);
	DIR *d = opendir(dir);
	if (!d) {
		rc = -errno;
		snprintf(err, errlen, "shared memory of vagentd (pid %d): %s: %s%s", pid, dir,
			 strerror(errno), rc == -EACCES || rc == -EPERM ?
			 " (vagentd is not dumpable: status needs root)" : "");
		return rc;
	}
	while (fd < 0 && (de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%.16s", dir, de->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) != 0)
			continue;
		fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0)
			rc = -errno;
	}
	closedir(d);
	if (fd < 0) {
		snprintf(err, errlen, "shared memory %s of vagentd (pid %d): %s", name, pid,
			 rc == -ENOENT ? "not found (is vagentd running?)" : strerror(-rc));
		return rc;
	}
	*out = fd;
	return 0;
}

/* A header this build can read, of the vagentd whose pidfile we read. */
static int header_ok(const struct shm_map *m, int pid, char *err, size_t errlen)
{
	const struct shm_header *h = shm_hdr(m);

	if (h->magic != SHM_MAGIC || h->major != SHM_MAJOR ||
	    h->nregions < h->nslots ||
	    h->slots_off + (uint64_t)h->nregions * h->slot_region_size > m->size) {
		snprintf(err, errlen, "shared memory %s: unknown layout (magic %08x, version %u)",
			 m->name, h->magic, h->major);
		return -EPROTO;
	}
	if (h->master_pid != pid) {
		snprintf(err, errlen, "shared memory %s: belongs to pid %d, not %d", m->name,
			 (int)h->master_pid, pid);
		return -ESRCH;
	}
	return 0;
}

static int open_existing(struct shm_map *m, const char *run_dir, bool rw, char *err,
			 size_t errlen)
{
	char real[PATH_MAX], name[64];
	struct stat st;
	int pid = 0, rc;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	shm_name_for(realpath(run_dir, real) ? real : run_dir, name, sizeof(name));
	snprintf(m->name, sizeof(m->name), "%s", name);
	if ((rc = read_pidfile(run_dir, &pid, err, errlen)) < 0 ||
	    (rc = open_by_proc(pid, name, rw, &m->fd, err, errlen)) < 0)
		return rc;
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
	if ((rc = header_ok(m, pid, err, errlen)) < 0)
		shm_unmap(m);
	return rc;
}

int shm_open_ro(struct shm_map *m, const char *run_dir, char *err, size_t errlen)
{
	return open_existing(m, run_dir, false, err, errlen);
}

int shm_open_rw(struct shm_map *m, const char *run_dir, char *err, size_t errlen)
{
	return open_existing(m, run_dir, true, err, errlen);
}

int shm_claim_producer(const struct shm_map *m, int pid, uint32_t *region)
{
	const struct shm_header *h = shm_hdr(m);

	for (uint32_t i = h->nslots + SHM_API_REGIONS; i < h->nregions; i++) {
		struct recq *q = shm_recq(m, i);
		int32_t owner = atomic_load(&q->owner_pid);
		if (owner && (kill(owner, 0) == 0 || errno != ESRCH))
			continue;
		if (atomic_compare_exchange_strong(&q->owner_pid, &owner, pid)) {
			*region = i;
			return 0;
		}
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

/* The bytes an entry may occupy: between the doorbell and region 0, or after struct slot. */
static int section_in_area(const struct shm_header *h, const struct shm_section *s)
{
	uint64_t lo, hi;

	if (s->scope == SHM_SCOPE_SEGMENT) {
		lo = h->bell_off + page_round(sizeof(struct bell));
		hi = h->slots_off;
	} else {
		lo = sizeof(struct slot);
		hi = h->ring_in_off <= h->slot_region_size ? h->ring_in_off : 0;
	}
	return s->off >= lo && s->off <= hi && s->size <= hi - s->off ? 0 : -ERANGE;
}

static const char *scope_name(uint32_t scope)
{
	return scope == SHM_SCOPE_SEGMENT ? "segment" : scope == SHM_SCOPE_REGION ? "region" :
	       "unknown scope";
}

int shm_section_find(const struct shm_header *h, const struct shm_section_spec *want,
		     const struct shm_section **out, char *err, size_t errlen)
{
	uint32_t n = h->nsections < SHM_SECTIONS_MAX ? h->nsections : SHM_SECTIONS_MAX;
	const struct shm_section *s = NULL;

	*out = NULL;
	for (uint32_t i = 0; i < n && !s; i++)
		if (!strncmp(h->sections[i].name, want->name, SHM_SECTION_NAME))
			s = &h->sections[i];
	if (!s) {
		if (err)
			snprintf(err, errlen, "no section \"%s\" in shared memory", want->name);
		return -ENOENT;
	}
	if (s->version != want->version || s->scope != want->scope || s->size != want->size) {
		if (err)
			snprintf(err, errlen, "section \"%s\" (%s, version %u, %llu bytes) is not "
				 "the one this program reads (%s, version %u, %llu bytes): another "
				 "build?", want->name, scope_name(s->scope), s->version,
				 (unsigned long long)s->size, scope_name(want->scope), want->version,
				 (unsigned long long)want->size);
		return -EPROTO;
	}
	if (section_in_area(h, s) < 0) {
		if (err)
			snprintf(err, errlen, "section \"%s\" lies outside its area", want->name);
		return -ERANGE;
	}
	*out = s;
	return 0;
}

int shm_section_get(const struct shm_map *m, const struct shm_section_spec *want, void **out,
		    char *err, size_t errlen)
{
	const struct shm_section *s;
	int rc;

	*out = NULL;
	if (want->scope != SHM_SCOPE_SEGMENT)
		return -EINVAL;
	if ((rc = shm_section_find(shm_hdr(m), want, &s, err, errlen)) < 0)
		return rc;
	*out = (char *)m->base + s->off;
	return 0;
}

void *shm_region_section(void *region, const struct shm_section *s)
{
	return (char *)region + s->off;
}

int shm_map_section(struct shm_map *sm, int shm_fd, const struct shm_section *s)
{
	if (s->scope != SHM_SCOPE_SEGMENT)
		return -EINVAL;
	return map_range(sm, shm_fd, s->off, page_round(s->size));
}

#ifndef __NR_mseal
#define __NR_mseal 462		/* the same on every architecture */
#endif

int shm_seal_map(const struct shm_map *m)
{
	return syscall(__NR_mseal, m->base, m->size, 0UL) < 0 ? -errno : 0;
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
