/*
 * fuzz_record.c - a record queue as the booking-writer reads it from a
 * producer's region, and each record's payload through record_decode.
 *
 * The input is the producer's side of the queue, which a compromised worker
 * controls entirely: the first 8 bytes are head, the next 8 the writer's
 * starting position (taken from tail at start-up), the next 8 cap and mask
 * and index as the producer left them, the rest the ring's bytes. The writer
 * reads with the size of the layout (CAP), never the queue's own. Every
 * record read must lie inside the ring and the published bytes, and the
 * walk must end (each record moves the position forward).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/booking/record.h"
#include "../../ipc/recq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 4096u

static struct recq *q;
static uint8_t payload[CAP];
static uint8_t raw[CAP];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t head, pos, expect = 0;
	uint32_t words[2];

	if (size < 24)
		return 0;
	if (!q && !(q = aligned_alloc(64, (recq_bytes(CAP) + 63) & ~(size_t)63)))
		abort();
	recq_init(q, CAP, 3);
	memcpy(&head, data, 8);
	memcpy(&pos, data + 8, 8);
	memcpy(words, data + 16, 8);
	q->cap = words[0];
	q->mask = words[1];
	data += 24;
	size -= 24;
	memset(q + 1, 0, CAP);
	memcpy(q + 1, data, size < CAP ? size : CAP);
	/* Small heads are the interesting ones: keep most of them near pos. */
	if (head >> 63)
		head = pos + (head & (2 * CAP - 1));
	atomic_store(&q->head, head);

	(void)recq_check(q, CAP, 3);
	if (recq_copy_raw(q, CAP, pos, raw) > CAP)
		abort();
	for (int n = 0;; n++) {
		struct recq_rec rec;
		uint64_t before = pos;
		int rc = recq_read(q, CAP, &pos, &expect, &rec, payload, sizeof(payload));
		if (rc <= 0)
			break;
		if (pos - before == 0 || pos - before > CAP || head - pos > CAP ||	/* modulo 2^64 */
		    rec.len > recq_cap_payload(CAP) || n > (int)(CAP / RECQ_HDR_LEN))
			abort();
		msgpack_unpacked up;
		struct rec_val vals[REC_MAX_FIELDS];
		char why[256];
		msgpack_unpacked_init(&up);
		if (record_decode(rec.type, rec.version, payload, rec.len, &up, vals, why,
				  sizeof(why)) == 0) {
			size_t nf;
			const struct rec_fdef *f = record_fields(rec.type, &nf);
			for (size_t i = 0; i < nf; i++) {
				if (!vals[i].present || (f[i].type != RF_STR && f[i].type != RF_JSON))
					continue;
				/* Strings point into the payload copy, never outside it. */
				if ((const uint8_t *)vals[i].s < payload ||
				    (const uint8_t *)vals[i].s + vals[i].len > payload + rec.len)
					abort();
			}
		} else if (!why[0]) {
			abort();	/* a refusal always says why */
		}
		msgpack_unpacked_destroy(&up);
	}
	return 0;
}
