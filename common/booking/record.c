/*
 * record.c - durable records: field tables, msgpack encoding, checked decoding.
 */
#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>


/* Limits follow the columns (sql/migrations): VARCHAR(n) holds n characters. */
static const struct rec_fdef booking_fields[BK_NFIELDS] = {
	[BK_REF]            = { "ref", RF_STR, 16, true },
	[BK_SOURCE]         = { "source", RF_STR, 5, true },
	[BK_CALL_UUID]      = { "call_uuid", RF_STR, 36, false },
	[BK_CREATED_MS]     = { "created_ms", RF_INT, 0, true },
	[BK_CUSTOMER_NAME]  = { "customer_name", RF_STR, 255, true },
	[BK_CUSTOMER_PHONE] = { "customer_phone", RF_STR, 30, true },
	[BK_POSTCODE]       = { "postcode", RF_STR, 10, true },
	[BK_ADDRESS]        = { "address", RF_STR, 500, true },
	[BK_PROBLEM]        = { "problem_description", RF_STR, 4000, true },
	[BK_TRADE_TYPE]     = { "trade_type", RF_STR, 20, true },
	[BK_CALLOUT_FEE]    = { "callout_fee", RF_INT, 0, false },
	[BK_DID_NUMBER]     = { "did_number", RF_STR, 30, false },
	[BK_COMPANY_NAME]   = { "company_name", RF_STR, 255, false },
	[BK_IS_REPEAT]      = { "is_repeat", RF_BOOL, 0, false },
	[BK_OUTCOME]        = { "outcome", RF_STR, 30, false },
};

static const struct rec_fdef call_end_fields[CE_NFIELDS] = {
	[CE_UUID]       = { "uuid", RF_STR, 36, true },
	[CE_DID]        = { "did", RF_STR, 50, false },
	[CE_CLI]        = { "cli", RF_STR, 30, false },
	[CE_ENGINE]     = { "engine", RF_STR, 16, true },
	[CE_START_MS]   = { "start_ms", RF_INT, 0, true },
	[CE_END_MS]     = { "end_ms", RF_INT, 0, true },
	[CE_OUTCOME]    = { "outcome", RF_STR, 30, true },
	[CE_TURNS]      = { "turns", RF_INT, 0, false },
	[CE_BARGE_INS]  = { "barge_ins", RF_INT, 0, false },
	[CE_LATENCY]    = { "latency", RF_JSON, 4096, false },
	[CE_TRANSCRIPT] = { "transcript", RF_JSON, 60000, false },
	/* Optional, so records of either version decode alike: no version bump. */
	[CE_RECORDING]  = { "recording_path", RF_STR, REC_RECORDING_MAX, false },
};

const struct rec_fdef *record_fields(uint8_t type, size_t *n)
{
	switch (type) {
	case REC_BOOKING:
		*n = BK_NFIELDS;
		return booking_fields;
	case REC_CALL_END:
		*n = CE_NFIELDS;
		return call_end_fields;
	default:
		*n = 0;
		return NULL;
	}
}

long utf8_chars(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	long n = 0;

	while (p < end) {
		unsigned c = *p;
		int extra = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 :
			    (c & 0xf8) == 0xf0 ? 3 : -1;
		if (c == 0 || extra < 0 || (c & 0xfe) == 0xc0 || end - p <= extra)
			return -EILSEQ;	/* NUL, stray byte, overlong lead, or cut short */
		for (int k = 1; k <= extra; k++)
			if ((p[k] & 0xc0) != 0x80)
				return -EILSEQ;
		p += extra + 1;
		n++;
	}
	return n;
}

/* Checks one value against its definition; NULL if fine, else why not. */
static const char *check(const struct rec_fdef *f, const struct rec_val *v)
{
	if (f->type == RF_STR || f->type == RF_JSON) {
		long chars = utf8_chars(v->s, v->len);
		if (chars < 0)
			return "not valid UTF-8";
		if ((f->type == RF_STR && (uint32_t)chars > f->max) ||
		    (f->type == RF_JSON && v->len > f->max))
			return "longer than its column";
	}
	return NULL;
}

int record_encode(uint8_t type, const struct rec_val *vals, msgpack_sbuffer *sbuf,
		  char *err, size_t errlen)
{
	size_t n, present = 0;
	const struct rec_fdef *f = record_fields(type, &n);
	msgpack_packer pk;

	if (!f) {
		snprintf(err, errlen, "unknown record type %u", type);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *why = vals[i].present ? check(&f[i], &vals[i]) : NULL;
		if (why || (f[i].required && !vals[i].present)) {
			snprintf(err, errlen, "%s: %s", f[i].name, why ? why : "missing");
			return -EINVAL;
		}
		present += vals[i].present;
	}
	msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, present);
	for (size_t i = 0; i < n; i++) {
		if (!vals[i].present)
			continue;
		msgpack_pack_str_with_body(&pk, f[i].name, strlen(f[i].name));
		if (f[i].type == RF_INT)
			msgpack_pack_int64(&pk, vals[i].i);
		else if (f[i].type == RF_BOOL)
			vals[i].i ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
		else
			msgpack_pack_str_with_body(&pk, vals[i].s, vals[i].len);
	}
	return 0;
}

/* Takes one map entry's value into vals[i] if its type fits the field. */
static int take(const struct rec_fdef *f, const msgpack_object *o, struct rec_val *v)
{
	switch (f->type) {
	case RF_STR:
	case RF_JSON:
		if (o->type != MSGPACK_OBJECT_STR)
			return -EPROTO;
		v->s = o->via.str.ptr;
		v->len = o->via.str.size;
		break;
	case RF_INT:
		if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
			v->i = (int64_t)o->via.u64;
		else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			v->i = o->via.i64;
		else
			return -EPROTO;
		break;
	case RF_BOOL:
		if (o->type != MSGPACK_OBJECT_BOOLEAN)
			return -EPROTO;
		v->i = o->via.boolean;
		break;
	}
	v->present = true;
	return 0;
}

/* Big-endian length of n bytes at p. */
static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

/*
 * Whether buf[0..len) is exactly one msgpack object whose every container
 * claims no more elements than there are bytes left for them. msgpack-c
 * allocates a container's elements before it reads them, so a five-byte
 * "map of 2^32 entries" from a producer asked it for 64 GiB (found by
 * fuzzing); after this check it allocates in proportion to len.
 */
static bool mp_plausible(const uint8_t *buf, size_t len)
{
	uint64_t pending = 1;	/* objects still to read */
	size_t pos = 0;

	while (pending) {
		if (pos >= len)
			return false;
		uint8_t b = buf[pos++];
		uint64_t body = 0, items = 0;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
			body = 0;
		else if (b <= 0x8f)
			items = 2 * (uint64_t)(b & 0x0f);
		else if (b <= 0x9f)
			items = b & 0x0f;
		else if (b <= 0xbf)
			body = b & 0x1f;
		else if (b == 0xc1)
			return false;
		else if (b >= 0xc4 && b <= 0xc9) {	/* bin 8/16/32, ext 8/16/32 */
			int n = 1 << ((b - 0xc4) % 3);
			if (len - pos < (size_t)n)
				return false;
			body = be(buf + pos, n) + (b >= 0xc7);
			pos += (size_t)n;
		} else if (b == 0xca || b == 0xcb)
			body = b == 0xca ? 4 : 8;
		else if (b >= 0xcc && b <= 0xd3)
			body = 1u << ((b - 0xcc) % 4);
		else if (b >= 0xd4 && b <= 0xd8)
			body = 1 + (1u << (b - 0xd4));
		else {					/* str 8/16/32, array 16/32, map 16/32 */
			int n = b <= 0xdb ? 1 << (b - 0xd9) : b <= 0xdd ? 2 << (b - 0xdc) :
				2 << (b - 0xde);
			if (len - pos < (size_t)n)
				return false;
			uint64_t v = be(buf + pos, n);
			pos += (size_t)n;
			if (b <= 0xdb)
				body = v;
			else
				items = b <= 0xdd ? v : 2 * v;
		}
		if (body > len - pos)
			return false;
		pos += (size_t)body;
		pending = pending - 1 + items;
		if (pending > len - pos)
			return false;	/* each element takes at least a byte */
	}
	return pos == len;
}

int record_decode(uint8_t type, uint8_t version, const void *buf, size_t len,
		  msgpack_unpacked *up, struct rec_val *vals, char *err, size_t errlen)
{
	size_t n, off = 0;
	const struct rec_fdef *f = record_fields(type, &n);

	memset(vals, 0, sizeof(*vals) * REC_MAX_FIELDS);
	if (!f) {
		snprintf(err, errlen, "unknown record type %u", type);
		return -EPROTO;
	}
	if (version != RECORD_VERSION) {
		snprintf(err, errlen, "record version %u (this writer knows %u)", version,
			 RECORD_VERSION);
		return -EPROTO;
	}
	/* One whole object, nothing after it: a parse error (-1) is not success. */
	if (!mp_plausible(buf, len) ||
	    msgpack_unpack_next(up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len ||
	    up->data.type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errlen, "payload is not one msgpack map");
		return -EPROTO;
	}
	const msgpack_object_map *m = &up->data.via.map;
	for (uint32_t k = 0; k < m->size; k++) {
		const msgpack_object *key = &m->ptr[k].key;
		if (key->type != MSGPACK_OBJECT_STR)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (strlen(f[i].name) != key->via.str.size ||
			    memcmp(f[i].name, key->via.str.ptr, key->via.str.size))
				continue;
			const char *why = NULL;
			if (take(&f[i], &m->ptr[k].val, &vals[i]) < 0)
				why = "wrong type";
			else
				why = check(&f[i], &vals[i]);
			if (why) {
				snprintf(err, errlen, "%s: %s", f[i].name, why);
				return -EPROTO;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (f[i].required && !vals[i].present) {
			snprintf(err, errlen, "%s: missing", f[i].name);
			return -EPROTO;
		}
	}
	return 0;
}
