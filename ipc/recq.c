/*
 * recq.c - a producer's record queue. See recq.h for the ordering pairs.
 *
 * Wire layout of one record in the ring, padded to 8 bytes:
 *   u32 len | u8 type | u8 version | u16 zero | u64 seq | payload[len]
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

uint32_t recq_max_payload(const struct recq *q)
{
	return q->cap / 4 - RECQ_HDR_LEN;
}

static void put_bytes(struct recq *q, uint64_t pos, const void *src, size_t n)
{
	uint32_t off = (uint32_t)(pos & q->mask);
	size_t first = q->cap - off < n ? q->cap - off : n;

	memcpy(data(q) + off, src, first);
	memcpy(data(q), (const uint8_t *)src + first, n - first);
}

static void get_bytes(const struct recq *q, uint64_t pos, void *dst, size_t n)
{
	uint32_t off = (uint32_t)(pos & q->mask);
	size_t first = q->cap - off < n ? q->cap - off : n;

	memcpy(dst, data(q) + off, first);
	memcpy((uint8_t *)dst + first, data(q), n - first);
}

int recq_put(struct recq *q, uint8_t type, uint8_t version,
	     const void *payload, uint32_t len, uint64_t *seq)
{
	uint8_t hdr[RECQ_HDR_LEN] = { 0 };
	uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);	/* B */
	uint64_t need = pad8(RECQ_HDR_LEN + (uint64_t)len);
	uint64_t s = atomic_load_explicit(&q->next_seq, memory_order_relaxed);

	if (len > recq_max_payload(q))
		return -EMSGSIZE;
	if (q->cap - (head - tail) < need)
		return -ENOBUFS;
	memcpy(hdr, &len, 4);
	hdr[4] = type;
	hdr[5] = version;
	memcpy(hdr + 8, &s, 8);
	put_bytes(q, head, hdr, sizeof(hdr));
	put_bytes(q, head + RECQ_HDR_LEN, payload, len);
	atomic_store_explicit(&q->next_seq, s + 1, memory_order_relaxed);
	atomic_store_explicit(&q->head, head + need, memory_order_release);	/* A */
	*seq = s;
	return 0;
}

enum recq_state recq_state(const struct recq *q, uint64_t seq)
{
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

int recq_read(const struct recq *q, uint64_t *pos, struct recq_rec *rec,
	      void *buf, size_t buflen)
{
	uint8_t hdr[RECQ_HDR_LEN];
	uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);	/* A */
	uint64_t p = *pos;

	if (head == p)
		return 0;
	/* Everything below comes from a process we do not trust. */
	if (head - p < RECQ_HDR_LEN || head - p > q->cap || p & 7)
		return -EPROTO;
	get_bytes(q, p, hdr, sizeof(hdr));
	memcpy(&rec->len, hdr, 4);
	rec->type = hdr[4];
	rec->version = hdr[5];
	memcpy(&rec->seq, hdr + 8, 8);
	uint64_t need = pad8(RECQ_HDR_LEN + (uint64_t)rec->len);
	if (rec->len > recq_max_payload(q) || rec->len > buflen || need > head - p)
		return -EPROTO;
	get_bytes(q, p + RECQ_HDR_LEN, buf, rec->len);
	*pos = p + need;
	return 1;
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

void recq_skip_all(struct recq *q)
{
	atomic_store_explicit(&q->tail, recq_head(q), memory_order_release);
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
