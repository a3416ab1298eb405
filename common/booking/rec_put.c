/*
 * rec_put.c - encode, enqueue, ring.
 */
#include "rec_put.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

int rec_put(struct recq *q, struct bell *b, uint8_t type, const struct rec_val *vals,
	    uint64_t *seq, char *err, size_t errlen)
{
	msgpack_sbuffer sb;
	int rc;

	msgpack_sbuffer_init(&sb);
	rc = record_encode(type, vals, &sb, err, errlen);
	if (rc == 0) {
		rc = recq_put(q, type, RECORD_VERSION, sb.data, (uint32_t)sb.size, seq);
		if (rc == -ENOBUFS)
			snprintf(err, errlen, "record queue full: is the booking-writer running?");
		else if (rc == -EMSGSIZE)
			snprintf(err, errlen, "record of %zu bytes is too large", sb.size);
		else if (rc == -EPROTO)
			snprintf(err, errlen, "record queue damaged: the booking-writer has it reset");
	}
	msgpack_sbuffer_destroy(&sb);
	if (rc == 0)
		bell_ring(b);
	return rc;
}

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void booking_ref_for_key(const char *key, char *out, size_t len)
{
	uint64_t h = 14695981039346656037ull;

	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	if (len < 11)
		return;
	for (int i = 0; i < 10; i++, h >>= 5)
		out[i] = alphabet[h & 31];
	out[10] = '\0';
}

int booking_ref_new(char *out, size_t len)
{
	uint8_t rnd[10];

	if (len < 11)
		return -ENOSPC;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -errno;
	for (int i = 0; i < 10; i++)
		out[i] = alphabet[rnd[i] & 31];
	out[10] = '\0';
	return 0;
}
