/*
 * bw_journal.c - the booking-writer's journal segments, applied marker
 * and dead-letter file. See bw_journal.h for the format and the rules.
 */
#include "bw_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/base64.h"
#include "../../common/crc32.h"
#include "../../common/file_replace.h"
#include "../../common/log.h"

#define SEG_PREFIX "journal."

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint32_t jrec_crc(const uint8_t *hdr, const void *payload, uint32_t len)
{
	uint8_t h[JREC_HDR_LEN];

	memcpy(h, hdr, JREC_HDR_LEN);
	memset(h + 8, 0, 4);
	return crc32_update(crc32_update(0, h, JREC_HDR_LEN), payload, len);
}

size_t jrec_encode(uint8_t *out, const struct jrec *r, const void *payload)
{
	uint32_t magic = JREC_MAGIC, zero = 0, crc;

	memcpy(out, &magic, 4);
	memcpy(out + 4, &r->len, 4);
	memcpy(out + 8, &zero, 4);
	memcpy(out + 12, &r->producer, 2);
	out[14] = r->type;
	out[15] = r->version;
	memcpy(out + 16, &r->seq, 8);
	memcpy(out + 24, &r->epoch, 8);
	memcpy(out + JREC_HDR_LEN, payload, r->len);
	crc = jrec_crc(out, payload, r->len);
	memcpy(out + 8, &crc, 4);
	return JREC_HDR_LEN + r->len;
}

int jrec_decode(const uint8_t *buf, size_t avail, struct jrec *r)
{
	if (avail < JREC_HDR_LEN)
		return 0;
	if (rd32(buf) != JREC_MAGIC)
		return -EPROTO;
	r->len = rd32(buf + 4);
	if (r->len > JREC_MAX_PAYLOAD)
		return -EPROTO;
	if (avail < JREC_HDR_LEN + (size_t)r->len)
		return 0;
	if (jrec_crc(buf, buf + JREC_HDR_LEN, r->len) != rd32(buf + 8))
		return -EPROTO;
	memcpy(&r->producer, buf + 12, 2);
	r->type = buf[14];
	r->version = buf[15];
	memcpy(&r->seq, buf + 16, 8);
	memcpy(&r->epoch, buf + 24, 8);
	return 1;
}

void journal_seg_path(char *out, size_t len, const char *dir, uint64_t seg)
{
	snprintf(out, len, "%s/" SEG_PREFIX "%010llu", dir, (unsigned long long)seg);
}

/* Newest and oldest segment numbers in dir (0, 0 if none). */
static void seg_range(const char *dir, uint64_t *oldest, uint64_t *newest)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	*oldest = *newest = 0;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		if (strncmp(de->d_name, SEG_PREFIX, strlen(SEG_PREFIX)))
			continue;
		uint64_t n = strtoull(de->d_name + strlen(SEG_PREFIX), &end, 10);
		if (*end || n == 0)
			continue;
		if (!*oldest || n < *oldest)
			*oldest = n;
		if (n > *newest)
			*newest = n;
	}
	closedir(d);
}

uint64_t journal_oldest(const char *dir)
{
	uint64_t o, n;

	seg_range(dir, &o, &n);
	return o;
}

/*
 * Walks the newest segment; truncates a torn tail. Reads the whole segment:
 * segments are bounded by rotate_bytes. Damage with whole records after it
 * is logged and kept: the database thread dead-letters those bytes when it
 * reaches them, and every record after them is applied.
 */
static int recover_tail(struct journal *j, uint64_t start, uint64_t *records,
			char *err, size_t errlen)
{
	struct jscan_report rep;
	struct stat st;

	if (fstat(j->fd, &st) < 0)
		return -errno;
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	if (n && pread(j->fd, buf, n, 0) != (ssize_t)n) {
		snprintf(err, errlen, "journal segment %llu: short read",
			 (unsigned long long)j->seg);
		free(buf);
		return -EIO;
	}
	journal_scan(buf, n, start, true, &rep);
	free(buf);
	*records = rep.records;
	if (rep.corrupt_spans)
		log_error("writer", NULL, "journal segment %llu: %zu corrupt byte(s) in %zu "
			  "span(s) from byte %zu, with whole records after them: the records "
			  "are kept, the damaged bytes go to the dead-letter file",
			  (unsigned long long)j->seg, rep.corrupt_bytes, rep.corrupt_spans,
			  rep.first_corrupt);
	if (rep.good_end < n) {
		log_warn("writer", NULL, "journal segment %llu: torn record at %zu, "
			 "truncating %zu byte(s) (a crash mid-write)",
			 (unsigned long long)j->seg, rep.good_end, n - rep.good_end);
		if (ftruncate(j->fd, (off_t)rep.good_end) < 0 || fsync(j->fd) < 0)
			return -errno;
	}
	j->size = rep.good_end;
	return 0;
}

static int open_seg(struct journal *j, uint64_t seg, bool create)
{
	char path[PATH_MAX + 32];

	journal_seg_path(path, sizeof(path), j->dir, seg);
	int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0),
		      0600);
	if (fd < 0)
		return -errno;
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->seg = seg;
	j->size = 0;
	return create ? file_sync_dir(j->dir) : 0;
}

int journal_open(struct journal *j, const char *dir, uint64_t rotate_bytes,
		 uint64_t *pending, char *err, size_t errlen)
{
	uint64_t oldest, newest;
	struct jpos applied;
	int rc;

	memset(j, 0, sizeof(*j));
	j->fd = j->lock_fd = -1;
	j->rotate_bytes = rotate_bytes;
	snprintf(j->dir, sizeof(j->dir), "%s", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "journal_dir %s: %s", dir, strerror(errno));
		return -errno;
	}
	char lock[PATH_MAX + 8];
	snprintf(lock, sizeof(lock), "%s/lock", dir);
	j->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lock_fd < 0 || flock(j->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = -errno;
		snprintf(err, errlen, "journal_dir %s: %s", dir, rc == -EWOULDBLOCK ?
			 "in use by another booking-writer" : strerror(-rc));
		return rc;
	}
	seg_range(dir, &oldest, &newest);
	rc = newest ? open_seg(j, newest, false) : open_seg(j, 1, true);
	if (rc < 0) {
		snprintf(err, errlen, "journal %s: %s", dir, strerror(-rc));
		return rc;
	}
	marker_load(dir, &applied);
	/* Segments older than the newest were closed whole; only its tail can tear. */
	rc = recover_tail(j, applied.seg == j->seg ? applied.off : 0, pending, err, errlen);
	if (rc < 0) {
		if (!*err)
			snprintf(err, errlen, "journal %s: %s", dir, strerror(-rc));
		return rc;
	}
	/* A marker past the truncation would hide what is appended from now on. */
	if (applied.seg == j->seg && applied.off > j->size) {
		applied.off = j->size;
		marker_store(dir, applied);
	}
	return 0;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	j->fd = j->lock_fd = -1;
}

int journal_append(struct journal *j, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t left = len;

	while (left) {
		ssize_t n = write(j->fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = -errno;
			/* Never leave half a batch: the next start would see a torn tail. */
			if (ftruncate(j->fd, (off_t)j->size) < 0) {
			}
			return err;
		}
		p += n;
		left -= (size_t)n;
	}
	j->size += len;
	return 0;
}

int journal_sync(struct journal *j)
{
	return fdatasync(j->fd) < 0 ? -errno : 0;
}

int journal_rotate(struct journal *j)
{
	if (j->size < j->rotate_bytes)
		return 0;
	return open_seg(j, j->seg + 1, true);
}

struct jpos journal_end(const struct journal *j)
{
	struct jpos p = { j->seg, j->size };
	return p;
}

int marker_load(const char *dir, struct jpos *p)
{
	char path[PATH_MAX + 16];
	unsigned long long seg, off;

	snprintf(path, sizeof(path), "%s/applied", dir);
	FILE *fp = fopen(path, "r");
	p->seg = journal_oldest(dir);
	p->off = 0;
	if (!fp)
		return errno == ENOENT ? 0 : -errno;
	int n = fscanf(fp, "%llu %llu", &seg, &off);
	fclose(fp);
	if (n != 2) {
		log_warn("writer", NULL, "%s: unreadable; replaying from the oldest segment "
			 "(inserts are idempotent)", path);
		return 0;
	}
	p->seg = seg;
	p->off = off;
	return 0;
}

int marker_store(const char *dir, struct jpos p)
{
	char text[48];
	int n = snprintf(text, sizeof(text), "%llu %llu\n", (unsigned long long)p.seg,
			 (unsigned long long)p.off);

	/*
	 * Not durable (no fsync): a marker that lags after a crash only makes
	 * the writer apply some records again, and every insert is idempotent.
	 */
	return file_replace(dir, "applied", text, (size_t)n, 0600, false);
}

int dead_letter(const char *dir, const char *reason, int producer, uint64_t seq,
		const void *bytes, size_t len)
{
	char path[PATH_MAX + 32], when[32];
	time_t now = time(NULL);
	struct tm tm;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/dead-letter.jsonl", dir);
	FILE *fp = fopen(path, "a");
	if (!fp)
		return -errno;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(fp, "{\"time\":\"%s\",\"producer\":%d,\"seq\":%llu,\"reason\":\"", when,
		producer, (unsigned long long)seq);
	for (const unsigned char *r = (const unsigned char *)reason; *r; r++) {
		if (*r == '"' || *r == '\\')
			fprintf(fp, "\\%c", *r);
		else if (*r < 0x20)
			fprintf(fp, "\\u%04x", *r);	/* MariaDB's text may hold anything */
		else
			fputc(*r, fp);
	}
	char *b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (b64)
		base64_encode(bytes, len, b64);
	fprintf(fp, "\",\"bytes\":%zu,\"base64\":\"%s\"}\n", len, b64 ? b64 : "");
	free(b64);
	if (fflush(fp) != 0 || fsync(fileno(fp)) < 0)
		rc = -errno;
	fclose(fp);
	return rc;
}
