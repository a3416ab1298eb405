/*
 * fuzz_booking.c - create_booking's request as the api reads it: body,
 * X-Source and Idempotency-Key.
 *
 * Input: byte 0 says which headers are there; then each present header's
 * length (one byte) and value; the rest is the HTTP body. It goes through
 * api_json_object() and booking_request(), the handler's own functions. A
 * booking they accept must be what a dispatch team relies on (a postcode
 * in standard form, a phone number of 7 to 15 digits, a known trade, a
 * reference of 10 characters) and must travel: booking_enqueue() into a
 * record queue never refuses it, and the writer's record_decode() reads
 * back the very same fields.
 */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/booking/booking.h"
#include "../../common/booking/record.h"
#include "../../ipc/bell.h"
#include "../../ipc/recq.h"
#include "../../supervisor/api/api_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (256u * 1024)

static _Alignas(64) uint8_t qbuf[sizeof(struct recq) + CAP];
static uint8_t payload[CAP];
static struct bell bell;

/* A header value: up to n bytes, cut at a NUL (a header holds none). */
static const uint8_t *header(const uint8_t *p, const uint8_t *end, char *out, size_t outlen)
{
	size_t n = p < end ? *p++ : 0;

	if (n > (size_t)(end - p))
		n = (size_t)(end - p);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return p + n;
}

static void same(const struct rec_val *v, const char *want)
{
	if (!want) {
		if (v->present)
			abort();
		return;
	}
	if (!v->present || v->len != strlen(want) || memcmp(v->s, want, v->len))
		abort();
}

static void check_fields(const struct booking_in *b)
{
	char pc[16];

	if (!postcode_norm(b->postcode, pc, sizeof(pc)) || strcmp(pc, b->postcode))
		abort();
	size_t digits = 0;
	for (const char *p = b->phone; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p != '+' || p != b->phone)
			abort();
	}
	if (digits < 7 || digits > 15 || strlen(b->ref) != 10 || !b->name[0] || !b->address[0])
		abort();
	if (strcmp(b->trade, "plumbing") && strcmp(b->trade, "electrical") &&
	    strcmp(b->trade, "drainage") && strcmp(b->trade, "locksmith"))
		abort();
	if (b->source[0] && !booking_source_ok(b->source))
		abort();
}

/* Enqueues b as the api does and decodes it as the writer does. */
static void round_trip(const struct booking_in *b)
{
	struct recq *q = (struct recq *)qbuf;
	struct recq_rec rec;
	struct rec_val v[REC_MAX_FIELDS];
	msgpack_unpacked up;
	char err[256];
	uint64_t seq, pos, expect = 0;

	recq_init(q, CAP, 0);
	if (booking_enqueue(q, &bell, b, &seq, err, sizeof(err)) < 0)
		abort();		/* accepted, yet the record refuses it */
	pos = recq_tail(q);
	if (recq_read(q, CAP, &pos, &expect, &rec, payload, sizeof(payload)) != 1 || rec.seq != seq)
		abort();
	msgpack_unpacked_init(&up);
	if (record_decode(rec.type, rec.version, payload, rec.len, &up, v, err, sizeof(err)) < 0)
		abort();
	same(&v[BK_REF], b->ref);
	same(&v[BK_SOURCE], b->source[0] ? b->source : "api");
	same(&v[BK_CUSTOMER_NAME], b->name);
	same(&v[BK_CUSTOMER_PHONE], b->phone);
	same(&v[BK_POSTCODE], b->postcode);
	same(&v[BK_ADDRESS], b->address);
	same(&v[BK_PROBLEM], b->problem);
	same(&v[BK_TRADE_TYPE], b->trade);
	same(&v[BK_DID_NUMBER], b->did[0] ? b->did : NULL);
	same(&v[BK_COMPANY_NAME], b->company[0] ? b->company : NULL);
	same(&v[BK_OUTCOME], b->outcome[0] ? b->outcome : NULL);
	same(&v[BK_CALL_UUID], b->call_uuid[0] ? b->call_uuid : NULL);
	if (v[BK_CALLOUT_FEE].present != b->has_fee || (b->has_fee && v[BK_CALLOUT_FEE].i != b->fee))
		abort();
	if (v[BK_IS_REPEAT].present != b->has_repeat ||
	    (b->has_repeat && (v[BK_IS_REPEAT].i != 0) != b->repeat))
		abort();
	msgpack_unpacked_destroy(&up);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char src[32], idem[256], why[256];
	static struct booking_in b;

	if (size < 1)
		return 0;
	uint8_t flags = *p++;
	if (flags & 1)
		p = header(p, end, src, sizeof(src));
	if (flags & 2)
		p = header(p, end, idem, sizeof(idem));
	json_t *in = api_json_object(p, (size_t)(end - p));
	if (!in)
		return 0;
	memset(&b, 0, sizeof(b));
	const char *bad = booking_request(in, flags & 1 ? src : NULL, flags & 2 ? idem : NULL,
					  &b, why, sizeof(why));
	if (!bad) {
		check_fields(&b);
		round_trip(&b);
	} else if (!*bad) {
		abort();		/* a reason the client can read */
	}
	json_decref(in);
	return 0;
}
