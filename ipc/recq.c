/*
 * recq.c - a producer's record queue. See recq.h for the ordering pairs and
 * for what the writer trusts.
 *
 * Wire layout of one record in the ring, padded to 8 bytes:
 *   u32 len | u8 type | u8 version | u16 zero | u64 seq | payload[len]
 *
 * The producer's functions use the queue's own cap and mask (a producer
 * that scribbles on them only hurts itself, and the writer then condemns
 * the queue); the writer's functions take cap as an argument, from the
 * layout, and never read cap or mask from the queue.
 */
#include "recq.h"

#include <errno.h>
#include <string.h>

static inline uint8_t *data(const struct recq *q)
{
	return (uint8_t *)(uintptr_t)(q + 1);
}

static inline uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

size_t recq_bytes(uint32_t cap) { return sizeof(struct recq) + cap; }

void recq_init(struct recq *q, uint32_t cap, uint32_t index)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap;
	q->mask = cap - 1;
	q->index = index;
	atomic_store_explicit(&q->next_seq, 1, memory_order_relaxed);
}

bool recq_cap_ok(uint32_t cap)
{
	return cap >= RECQ_MIN_CAP && (cap & (cap - 1)) == 0;
}

uint32_t recq_cap_payload(uint32_t cap)
{
	return cap / 4 > RECQ_HDR_LEN ? cap / 4 - RECQ_HDR_LEN : 0;
}

/* Copies n <= cap bytes in or out of a ring of cap bytes at pos. */
static void put_bytes(struct recq *q, uint32_t cap, uint64_t pos, const void *src, size_t n)
{
	uint32_t off = (uint32_t)(pos & (cap - 1));
	size_t first = cap - off < n ? cap - off : n;

	memcpy(data(q) + off, src, first);
	memcpy(data(q), (const uint8_t *)src + first, n - first);
}

static void get_bytes(const struct recq *q, uint32_t cap, uint64_t pos, void *dst, size_t n)
{
	uint32_t off = (uint32_t)(pos & (cap - 1));
	size_t first = cap - off < n ? cap - off : n;

	memcpy(dst, data(q) + off, first);
	memcpy((uint8_t *)dst + first, data(q), n - first);
}

int recq_put(struct recq *q, uint8_t type, uint8_t version,
	     const void *payload, uint32_t len, uint64_t *seq)
{
	uint8_t hdr[RECQ_HDR_LEN] = { 0 };
	uint32_t cap = q->cap;
	uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);	/* B */
	uint64_t need = pad8(RECQ_HDR_LEN + (uint64_t)len);
	uint64_t s = atomic_load_explicit(&q->next_seq, memory_order_relaxed);

	if (!recq_cap_ok(cap) || q->mask != cap - 1)
		return -EPROTO;		/* our own queue is damaged: the writer resets it */
	if (len > recq_cap_payload(cap))
		return -EMSGSIZE;
	if (head - tail > cap || cap - (head - tail) < need)
		return -ENOBUFS;
	memcpy(hdr, &len, 4);
	hdr[4] = type;
	hdr[5] = version;
	memcpy(hdr + 8, &s, 8);
	put_bytes(q, cap, head, hdr, sizeof(hdr));
	put_bytes(q, cap, head + RECQ_HDR_LEN, payload, len);
	atomic_store_explicit(&q->next_seq, s + 1, memory_order_relaxed);
	atomic_store_explicit(&q->head, head + need, memory_order_release);	/* A */
	*seq = s;
	return 0;
}

enum recq_state recq_state(const struct recq *q, uint64_t seq)
{
	uint64_t lo = atomic_load_explicit(&q->lost_lo, memory_order_acquire);	/* D */
	uint64_t hi = atomic_load_explicit(&q->lost_hi, memory_order_acquire);

	/* Dropped by a reset: later records move the watermarks past it. */
	if (seq > lo && seq <= hi)
		return RECQ_LOST;
	if (atomic_load_explicit(&q->committed, memory_order_acquire) >= seq)	/* C */
		return RECQ_COMMITTED;
	if (atomic_load_explicit(&q->journaled, memory_order_acquire) >= seq)	/* B */
		return RECQ_JOURNALED;
	return RECQ_PENDING;
}

int recq_committed_id(const struct recq *q, uint64_t seq, int64_t *id)
{
	const struct recq_ack *a = &q->acks[seq % RECQ_ACKS];

	if (atomic_load_explicit(&a->seq, memory_order_acquire) != seq)		/* C */
		return -ENOENT;
	*id = atomic_load_explicit(&a->id, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);	/* the id before the re-check */
	/* Overwritten by a newer seq while we read it? Then we do not know. */
	if (atomic_load_explicit(&a->seq, memory_order_acquire) != seq)
		return -ENOENT;
	return 0;
}

int recq_check(const struct recq *q, uint32_t cap, uint32_t index)
{
	/* Plain loads of words only the producer side could have changed. */
	uint32_t c = *(const volatile uint32_t *)&q->cap;
	uint32_t m = *(const volatile uint32_t *)&q->mask;
	uint32_t i = *(const volatile uint32_t *)&q->index;

	return c == cap && m == cap - 1 && i == index ? 0 : -EPROTO;
}

int recq_read(const struct recq *q, uint32_t cap, uint64_t *pos, uint64_t *expect,
	      struct recq_rec *rec, void *buf, size_t buflen)
{
	uint8_t hdr[RECQ_HDR_LEN];
	uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);	/* A */
	uint64_t p = *pos;
	uint16_t zero;

	if (head == p)
		return 0;
	/* Everything below comes from a process we do not trust: copy, then check. */
	if (head - p < RECQ_HDR_LEN || head - p > cap || p & 7)
		return -EPROTO;
	get_bytes(q, cap, p, hdr, sizeof(hdr));
	memcpy(&rec->len, hdr, 4);
	rec->type = hdr[4];
	rec->version = hdr[5];
	memcpy(&zero, hdr + 6, 2);
	memcpy(&rec->seq, hdr + 8, 8);
	uint64_t need = pad8(RECQ_HDR_LEN + (uint64_t)rec->len);
	if (rec->len > recq_cap_payload(cap) || rec->len > buflen || need > head - p || zero)
		return -EPROTO;
	if (rec->seq == 0 || (*expect && rec->seq != *expect))
		return -EPROTO;		/* seqs follow each other: nothing skipped, none replayed */
	get_bytes(q, cap, p + RECQ_HDR_LEN, buf, rec->len);
	*pos = p + need;
	*expect = rec->seq + 1;
	return 1;
}

size_t recq_copy_raw(const struct recq *q, uint32_t cap, uint64_t pos, void *out)
{
	uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);	/* A */
	uint64_t n = head - pos;

	if (n > cap)
		n = cap;	/* a head that lies: the whole ring is the evidence */
	get_bytes(q, cap, pos, out, (size_t)n);
	return (size_t)n;
}

uint64_t recq_tail(const struct recq *q)
{
	return atomic_load_explicit(&q->tail, memory_order_relaxed);
}

uint64_t recq_head(const struct recq *q)
{
	return atomic_load_explicit(&q->head, memory_order_acquire);
}

void recq_release(struct recq *q, uint64_t pos, uint64_t last_seq)
{
	atomic_store_explicit(&q->journaled, last_seq, memory_order_release);	/* B */
	atomic_store_explicit(&q->tail, pos, memory_order_release);		/* B */
}

void recq_commit(struct recq *q, uint64_t seq, int64_t id)
{
	struct recq_ack *a = &q->acks[seq % RECQ_ACKS];

	atomic_store_explicit(&a->seq, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);	/* seq = 0 before the new id */
	atomic_store_explicit(&a->id, id, memory_order_relaxed);
	atomic_store_explicit(&a->seq, seq, memory_order_release);		/* C */
	if (atomic_load_explicit(&q->committed, memory_order_relaxed) < seq)
		atomic_store_explicit(&q->committed, seq, memory_order_release);	/* C */
}

uint32_t recq_condemn(struct recq *q)
{
	uint32_t req = atomic_load_explicit(&q->condemn_done, memory_order_acquire) + 1;

	atomic_store_explicit(&q->condemn_req, req, memory_order_release);	/* D */
	return req;
}

bool recq_reset_done(const struct recq *q, uint32_t req)
{
	return atomic_load_explicit(&q->condemn_done, memory_order_acquire) == req;	/* D */
}

bool recq_condemned(const struct recq *q)
{
	return atomic_load_explicit(&q->condemn_req, memory_order_acquire) !=	/* D */
	       atomic_load_explicit(&q->condemn_done, memory_order_relaxed);
}

uint64_t recq_reset(struct recq *q, uint32_t cap, uint32_t index)
{
	uint64_t j = atomic_load_explicit(&q->journaled, memory_order_relaxed);
	uint64_t next = atomic_load_explicit(&q->next_seq, memory_order_relaxed);
	uint64_t lo = atomic_load_explicit(&q->lost_lo, memory_order_relaxed);
	uint64_t hi = atomic_load_explicit(&q->lost_hi, memory_order_relaxed);
	/* The dead producer may have written any next_seq: no more than fit. */
	uint64_t dropped = next > j + 1 ? next - 1 - j : 0;

	if (dropped > cap / RECQ_HDR_LEN)
		dropped = cap / RECQ_HDR_LEN;
	/* Nothing journaled since the last reset: its range is still unanswered. */
	if (!(hi > lo && j >= lo && j <= hi))
		lo = j;
	hi = j + dropped;
	q->cap = cap;
	q->mask = cap - 1;
	q->index = index;
	atomic_store_explicit(&q->owner_pid, 0, memory_order_relaxed);
	atomic_store_explicit(&q->head, 0, memory_order_relaxed);
	atomic_store_explicit(&q->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&q->lost_lo, lo, memory_order_relaxed);
	atomic_store_explicit(&q->lost_hi, hi, memory_order_release);		/* D */
	atomic_store_explicit(&q->next_seq, hi + 1, memory_order_relaxed);
	atomic_store_explicit(&q->condemn_done,
			      atomic_load_explicit(&q->condemn_req, memory_order_relaxed),
			      memory_order_release);					/* D */
	return dropped;
}
