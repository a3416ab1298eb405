/*
 * recq.h - a producer's queue of durable records (bookings, call ends),
 * in shared memory, drained by the booking-writer.
 *
 * Owns: one single-producer single-consumer byte ring of length-prefixed
 * records (header + msgpack payload), the producer's sequence numbers, and
 * the writer's two acknowledgements per record: journaled (on disk, fsync'd)
 * and committed (in MariaDB, with the row id).
 *
 * Enqueueing is a memory copy plus a wake-up of the writer (an eventfd the
 * caller rings): a producer never waits on the disk or the database unless
 * it chooses to wait for an acknowledgement.
 *
 * Sequence numbers and indices live in the segment, not in the producer, so
 * a replacement worker in the same slot continues where the dead one left
 * off; a record is visible to the writer only once head is published, so a
 * producer that dies mid-write leaves nothing half-written behind.
 *
 * Synchronisation: producer writes bytes then publishes head (release);
 * the writer reads head (acquire) before reading bytes (pair A). The writer
 * publishes tail and journaled (release) only after the records are on
 * disk; the producer reads tail (acquire) before reusing space (pair B).
 * committed and acks[] are written by the writer, read by the producer
 * (pair C). The writer treats every byte as untrusted: a worker may have
 * scribbled on its own queue before dying.
 */
#ifndef VG_RECQ_H
#define VG_RECQ_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RECQ_ACKS 256		/* committed ids kept per queue, by seq */
#define RECQ_HDR_LEN 16

enum recq_state {
	RECQ_PENDING = 0,
	RECQ_JOURNALED = 1,
	RECQ_COMMITTED = 2,
};

struct recq_ack {
	_Atomic uint64_t seq;
	_Atomic int64_t id;
};

struct recq {
	_Alignas(64) _Atomic uint64_t head;	/* producer: bytes published */
	_Atomic uint64_t next_seq;		/* producer: seq of the next record */
	_Alignas(64) _Atomic uint64_t tail;	/* writer: bytes journaled and released */
	_Atomic uint64_t journaled;		/* writer: all seq <= this are on disk */
	_Atomic uint64_t committed;		/* writer: all seq <= this are in MariaDB */
	_Alignas(64) struct recq_ack acks[RECQ_ACKS];
	_Alignas(64) uint32_t cap;		/* data bytes, power of two; set once */
	uint32_t mask;
	_Atomic int32_t owner_pid;		/* who produces here (tools claim a queue) */
	uint32_t index;				/* producer index, for the journal */
};

/* One record as the writer sees it (payload copied out of the ring). */
struct recq_rec {
	uint64_t seq;
	uint8_t type;
	uint8_t version;
	uint32_t len;
};

size_t recq_bytes(uint32_t cap);
void recq_init(struct recq *q, uint32_t cap, uint32_t index);

/* Largest payload one record may carry. */
uint32_t recq_max_payload(const struct recq *q);

/*
 * Producer: appends one record. *seq receives its sequence number.
 * 0; -EMSGSIZE if it can never fit; -ENOBUFS if the queue is full now
 * (the writer is behind: the caller decides whether to wait or fail).
 */
int recq_put(struct recq *q, uint8_t type, uint8_t version,
	     const void *payload, uint32_t len, uint64_t *seq);

/* Producer: how far the record has got. */
enum recq_state recq_state(const struct recq *q, uint64_t seq);

/* Producer: the row id of a committed record; -ENOENT if no longer kept. */
int recq_committed_id(const struct recq *q, uint64_t seq, int64_t *id);

/*
 * Writer: reads the record at byte position *pos (start from recq_tail()).
 * Copies its payload to buf (buflen >= recq_max_payload()) and advances *pos.
 * 1 for a record, 0 when none is published, -EPROTO when the bytes are not
 * a record (the queue is corrupt from *pos on).
 */
int recq_read(const struct recq *q, uint64_t *pos, struct recq_rec *rec,
	      void *buf, size_t buflen);

uint64_t recq_tail(const struct recq *q);
uint64_t recq_head(const struct recq *q);

/* Writer: records up to pos (last seq last_seq) are on disk; space is free. */
void recq_release(struct recq *q, uint64_t pos, uint64_t last_seq);

/* Writer: drops everything published (after a corrupt record). */
void recq_skip_all(struct recq *q);

/* Writer: record seq is in MariaDB as row id (0 when it has no row). */
void recq_commit(struct recq *q, uint64_t seq, int64_t id);

#endif
