/*
 * recq.h - a producer's queue of durable records (bookings, call ends),
 * in shared memory, drained by the booking-writer.
 *
 * Owns: one single-producer single-consumer byte ring of length-prefixed
 * records (header + msgpack payload), the producer's sequence numbers, the
 * writer's two acknowledgements per record: journaled (on disk, fsync'd)
 * and committed (in MariaDB, with the row id), and the handshake by which
 * the writer condemns a queue it finds corrupt and the supervisor resets it.
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
 * (pair C). condemn_req is written by the writer and condemn_done by the
 * supervisor after its reset (pair D).
 *
 * Trust. A queue lives in its producer's region, which that producer (a
 * worker that may be compromised or simply broken) can write at will. So the
 * writer treats every byte of it as input: its size comes from the layout
 * the supervisor computed (recq_cap in the segment header, which no worker
 * maps), never from cap/mask here (those are the producer's own copy, which
 * the writer only compares); its read position is its own, kept privately;
 * head and each record header are copied, then bounded (head - pos <= cap,
 * 8-byte aligned, len within the ring and the limit), and each record's seq
 * must follow the previous one. A queue that fails any check is condemned:
 * the writer stops reading it, dead-letters its unread bytes once, and asks
 * the supervisor (condemn_req) to kill its producer and reset it; only the
 * supervisor's reset (condemn_done) makes the writer read it again.
 *
 * What a compromised worker can do to the writer: get its own records
 * journaled with any content (refused later by record_decode or MariaDB and
 * dead-lettered), duplicated or dropped; claim another booking's reference
 * if it guesses one (the insert is idempotent by booking_ref); fill the
 * journal and the dead-letter file at the rate the writer drains (disk);
 * get itself condemned and killed; poison the sequence numbers of its own
 * slot (a worker later in the same slot may see its acks wrong until the
 * slot is reset); fake the reset handshake (the writer looks again at most
 * once a second and condemns again). What it cannot do: make the writer
 * read or write outside the segment, crash or stall it, take more than its
 * turn of a pass, or touch another producer's queue or acknowledgements.
 */
#ifndef VG_RECQ_H
#define VG_RECQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECQ_ACKS 256		/* committed ids kept per queue, by seq */
#define RECQ_HDR_LEN 16
#define RECQ_MIN_CAP 1024u	/* smallest ring the writer accepts from a layout */

enum recq_state {
	RECQ_LOST = -1,		/* dropped with a condemned queue: never journaled */
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
	_Atomic uint64_t journaled;		/* writer: all seq <= this are on disk... */
	_Atomic uint64_t committed;		/* writer: all seq <= this are in MariaDB... */
	_Atomic uint64_t lost_lo, lost_hi;	/* ...except (lost_lo, lost_hi]: reset away */
	_Atomic uint32_t condemn_req;		/* writer: != condemn_done while condemned */
	_Atomic uint32_t condemn_done;		/* supervisor: = condemn_req once reset */
	_Alignas(64) struct recq_ack acks[RECQ_ACKS];
	_Alignas(64) uint32_t cap;		/* the producer's copy of the layout's cap */
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

/* Whether cap is a size the writer accepts from a layout (a power of two). */
bool recq_cap_ok(uint32_t cap);

/* Largest payload one record may carry in a queue of cap bytes. */
uint32_t recq_cap_payload(uint32_t cap);

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
 * Writer: whether the producer's copy of the layout (cap, mask, index) is
 * still what the layout says. 0, or -EPROTO: a producer scribbled on it.
 */
int recq_check(const struct recq *q, uint32_t cap, uint32_t index);

/*
 * Writer: reads the record at byte position *pos, its own private read
 * position, in a ring of cap bytes (from the layout). Copies the payload to
 * buf (buflen >= recq_cap_payload(cap)) and advances *pos. *expect is the
 * seq the record must carry (0: any but 0); it is advanced too.
 * 1 for a record, 0 when none is published, -EPROTO when the bytes are not
 * a record (the queue is corrupt from *pos on).
 */
int recq_read(const struct recq *q, uint32_t cap, uint64_t *pos, uint64_t *expect,
	      struct recq_rec *rec, void *buf, size_t buflen);

/*
 * Writer: copies what is published from pos (at most cap bytes: the raw
 * evidence of a corrupt queue) to out (cap bytes); returns the count.
 */
size_t recq_copy_raw(const struct recq *q, uint32_t cap, uint64_t pos, void *out);

uint64_t recq_tail(const struct recq *q);
uint64_t recq_head(const struct recq *q);

/* Writer: records up to pos (last seq last_seq) are on disk; space is free. */
void recq_release(struct recq *q, uint64_t pos, uint64_t last_seq);

/* Writer: record seq is in MariaDB as row id (0 when it has no row). */
void recq_commit(struct recq *q, uint64_t seq, int64_t id);

/*
 * Writer: asks for the queue to be reset (the supervisor sees condemn_req
 * differ from condemn_done). Returns the request number to wait for.
 */
uint32_t recq_condemn(struct recq *q);

/* Writer: whether the supervisor has answered request req. */
bool recq_reset_done(const struct recq *q, uint32_t req);

/* Supervisor: whether the writer asks for a reset. */
bool recq_condemned(const struct recq *q);

/*
 * Supervisor, once nothing can produce into q (its producer is dead):
 * drops everything published, restores cap, mask and index from the
 * layout, reports the dropped sequence numbers as RECQ_LOST from then on,
 * and answers the writer's request. Returns how many seqs were dropped.
 */
uint64_t recq_reset(struct recq *q, uint32_t cap, uint32_t index);

#endif
