/*
 * bw_journal.h - the booking-writer's journal: what is on disk before
 * anything is acknowledged.
 *
 * Owns: the journal directory: numbered segment files of records
 * (journal.0000000001, ...), the "applied" marker saying how far MariaDB has
 * caught up, and the dead-letter file. The journal thread appends and
 * fsyncs (one fsync per batch: group commit); the database thread reads
 * behind it, and deletes a segment once everything in it is applied.
 *
 * Record on disk (little-endian, 32-byte header):
 *   u32 magic "VGJ1" | u32 len | u32 crc | u16 producer | u8 type |
 *   u8 version | u64 seq | u64 epoch | payload[len]
 * crc covers the header (with crc = 0) and the payload. epoch names the
 * daemon instance whose queues the record came from, so a record replayed
 * after a restart is never acknowledged into a new queue.
 *
 * Recovery: bytes that are not a record at the end of the newest segment,
 * with no whole record after them, are a torn tail (a crash mid-write: the
 * batch was never acknowledged) and are truncated away. Anything else that
 * is not a record, whatever its claimed length, is corruption: every whole
 * record after it is kept and its bytes go to the dead-letter file. (A bit
 * flipped in the very last record of the newest segment cannot be told
 * from a torn write.)
 */
#ifndef VG_BW_JOURNAL_H
#define VG_BW_JOURNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JREC_MAGIC 0x314a4756u		/* "VGJ1" */
#define JREC_HDR_LEN 32
#define JREC_MAX_PAYLOAD (1u << 20)

struct jrec {
	uint32_t len;
	uint16_t producer;
	uint8_t type;
	uint8_t version;
	uint64_t seq;
	uint64_t epoch;
};

/* A position in the journal. */
struct jpos {
	uint64_t seg;
	uint64_t off;
};

/* Encodes a record (header + payload) into out (JREC_HDR_LEN + len bytes). */
size_t jrec_encode(uint8_t *out, const struct jrec *r, const void *payload);

/*
 * Checks and decodes the record at buf[0..avail). 1 with *r filled (payload
 * at buf + JREC_HDR_LEN); 0 if the record (as its length says) runs past
 * avail; -EPROTO if the bytes there are not a record. 0 says nothing about
 * the CRC: where no more bytes can follow, the caller must take it as
 * damage, never as a reason to wait (journal_scan, jscan_next).
 */
int jrec_decode(const uint8_t *buf, size_t avail, struct jrec *r);

/*
 * Resynchronising after damage (bw_jscan.c): the scan of one buffer of
 * journal bytes. jscan_next() is the first offset k >= from where a whole
 * record with a good CRC starts; when !final (more bytes follow the buffer)
 * also where one might start but runs past the end; else n. Linear in the
 * bytes scanned.
 */
struct jscan {
	const uint8_t *buf;
	size_t n;
	uint32_t *ck;		/* crc of buf[base .. base + 64 k) */
	size_t base, have;
};

void jscan_init(struct jscan *s, const uint8_t *buf, size_t n);
size_t jscan_next(struct jscan *s, size_t from, bool final);
void jscan_free(struct jscan *s);

/*
 * One read of journal bytes buf[0..n) as the database thread walks it: up
 * to max whole records (record(); a negative return stops the walk with
 * it) and the damaged spans between them (corrupt()). Below the durable
 * limit there are only whole records, so when final (the read reached the
 * limit) a record that runs past n is damage; otherwise the walk stops at
 * it and the next read starts there. Returns that offset, or record()'s
 * error. The read must be longer than the largest record unless final.
 */
struct jwalk_ops {
	void *arg;
	int (*record)(void *arg, size_t off, const struct jrec *r);
	void (*corrupt)(void *arg, size_t off, size_t len);
};

long jscan_walk(const uint8_t *buf, size_t n, bool final, size_t max,
		const struct jwalk_ops *ops);

/* What a walk of a whole segment found. */
struct jscan_report {
	uint64_t records;	/* whole records at or after start */
	size_t good_end;	/* n, or where the torn tail of the last segment starts */
	size_t corrupt_spans, corrupt_bytes, first_corrupt;
};

/*
 * Walks buf[0..n), a whole segment; counts the records from start on.
 * Bytes that are not records are a torn tail only in the last segment and
 * only when no whole record follows them; anything else is corruption,
 * stepped over (every good record after it is kept). Always 0.
 */
int journal_scan(const uint8_t *buf, size_t n, size_t start, bool last,
		 struct jscan_report *rep);

struct journal {
	char dir[PATH_MAX];
	int lock_fd;		/* flock on <dir>/lock: one writer per journal */
	int fd;			/* newest segment, O_APPEND */
	uint64_t seg;
	uint64_t size;
	uint64_t rotate_bytes;
};

/*
 * Opens dir (creating it), recovers the newest segment's tail, and opens
 * it for appending. *pending counts the records after the applied marker.
 */
int journal_open(struct journal *j, const char *dir, uint64_t rotate_bytes,
		 uint64_t *pending, char *err, size_t errlen);
void journal_close(struct journal *j);

/* Appends len bytes (whole records). 0 or -errno. */
int journal_append(struct journal *j, const void *buf, size_t len);

/* Makes everything appended durable. 0 or -errno. */
int journal_sync(struct journal *j);

/* Starts a new segment when the current one is full. 0 or -errno. */
int journal_rotate(struct journal *j);

struct jpos journal_end(const struct journal *j);

/* The applied marker. A missing marker is the start of the oldest segment. */
int marker_load(const char *dir, struct jpos *p);
int marker_store(const char *dir, struct jpos p);

/* Oldest segment number present (0 if none). */
uint64_t journal_oldest(const char *dir);

/* Path of segment seg. */
void journal_seg_path(char *out, size_t len, const char *dir, uint64_t seg);

/*
 * Appends one line to <dir>/dead-letter.jsonl (fsync'd): the reason, where
 * it came from, and the raw bytes in base64. 0 or -errno.
 */
int dead_letter(const char *dir, const char *reason, int producer, uint64_t seq,
		const void *bytes, size_t len);

#endif
