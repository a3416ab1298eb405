/*
 * test_record.c - unit tests for common/record.h, the records producers
 * hand to the booking-writer.
 *
 * Protects: what record_encode writes, record_decode reads back field for
 * field; record_decode, which the writer runs on bytes a producer chose,
 * refuses (with a reason, never a crash) a payload that is not one msgpack
 * map, has bytes after it, an unknown type or version, a field of the
 * wrong type, invalid UTF-8 or a NUL, a string longer than its column, a
 * missing required field; and ignores unknown keys (a newer producer).
 * Never: depends on MariaDB.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/booking/record.h"

static void booking(struct rec_val *v)
{
	memset(v, 0, sizeof(*v) * REC_MAX_FIELDS);
	v[BK_REF] = rec_str("ABCDEFGHJK");
	v[BK_SOURCE] = rec_str("api");
	v[BK_CREATED_MS] = rec_int(1700000000000);
	v[BK_CUSTOMER_NAME] = rec_str("Zoë O'Brien 🔧");
	v[BK_CUSTOMER_PHONE] = rec_str("447700900123");
	v[BK_POSTCODE] = rec_str("E5 9ES");
	v[BK_ADDRESS] = rec_str("42 Amhurst Road");
	v[BK_PROBLEM] = rec_str("Leak");
	v[BK_TRADE_TYPE] = rec_str("plumbing");
	v[BK_IS_REPEAT] = rec_int(1);
}

/* Decodes sb as a booking; returns record_decode's answer, why in err. */
static int decode(const void *buf, size_t len, uint8_t type, uint8_t version,
		  struct rec_val *out, char *err)
{
	msgpack_unpacked up;
	struct rec_val vals[REC_MAX_FIELDS];

	msgpack_unpacked_init(&up);
	int rc = record_decode(type, version, buf, len, &up, vals, err, 200);
	if (rc == 0 && out) {
		/* Copy the scalars only: strings point into up. */
		for (int i = 0; i < REC_MAX_FIELDS; i++) {
			out[i] = vals[i];
			out[i].s = NULL;
		}
	}
	msgpack_unpacked_destroy(&up);
	return rc;
}

static void test_booking_round_trips(void **state)
{
	(void)state;
	struct rec_val v[REC_MAX_FIELDS], got[REC_MAX_FIELDS];
	msgpack_sbuffer sb;
	char err[200];

	booking(v);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(record_encode(REC_BOOKING, v, &sb, err, sizeof(err)), 0);
	assert_int_equal(decode(sb.data, sb.size, REC_BOOKING, RECORD_VERSION, got, err), 0);
	assert_true(got[BK_CREATED_MS].present);
	assert_int_equal(got[BK_CREATED_MS].i, 1700000000000);
	assert_int_equal(got[BK_IS_REPEAT].i, 1);
	assert_false(got[BK_CALLOUT_FEE].present);
	assert_int_equal(got[BK_CUSTOMER_NAME].len, strlen("Zoë O'Brien 🔧"));
	msgpack_sbuffer_destroy(&sb);
}

static void test_bad_envelopes_are_refused(void **state)
{
	(void)state;
	struct rec_val v[REC_MAX_FIELDS];
	msgpack_sbuffer sb;
	char err[200];

	booking(v);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(record_encode(REC_BOOKING, v, &sb, err, sizeof(err)), 0);
	assert_int_equal(decode(sb.data, sb.size, 9, RECORD_VERSION, NULL, err), -EPROTO);
	assert_non_null(strstr(err, "unknown record type"));
	assert_int_equal(decode(sb.data, sb.size, REC_BOOKING, 2, NULL, err), -EPROTO);
	assert_non_null(strstr(err, "version"));
	assert_int_equal(decode(sb.data, sb.size - 1, REC_BOOKING, 1, NULL, err), -EPROTO);
	msgpack_sbuffer_write(&sb, "\xc0", 1);	/* one byte after the map */
	assert_int_equal(decode(sb.data, sb.size, REC_BOOKING, 1, NULL, err), -EPROTO);
	assert_non_null(strstr(err, "not one msgpack map"));
	assert_int_equal(decode("\x93\x01\x02\x03", 4, REC_BOOKING, 1, NULL, err), -EPROTO);
	assert_int_equal(decode("\xc1", 1, REC_BOOKING, 1, NULL, err), -EPROTO);
	assert_int_equal(decode("", 0, REC_BOOKING, 1, NULL, err), -EPROTO);
	/* A map that claims more entries than there are bytes. */
	assert_int_equal(decode("\xdf\xff\xff\xff\xff", 5, REC_BOOKING, 1, NULL, err), -EPROTO);
	msgpack_sbuffer_destroy(&sb);
}

/* Packs a booking with one field replaced by raw msgpack bytes. */
static int with_field(const char *name, const char *raw, size_t rawlen, char *err)
{
	struct rec_val v[REC_MAX_FIELDS];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t n;
	const struct rec_fdef *f = record_fields(REC_BOOKING, &n);

	booking(v);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	size_t present = 0;
	for (size_t i = 0; i < n; i++)
		present += v[i].present && strcmp(f[i].name, name);
	msgpack_pack_map(&pk, present + 1);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].present || !strcmp(f[i].name, name))
			continue;
		msgpack_pack_str_with_body(&pk, f[i].name, strlen(f[i].name));
		if (f[i].type == RF_INT)
			msgpack_pack_int64(&pk, v[i].i);
		else if (f[i].type == RF_BOOL)
			v[i].i ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
		else
			msgpack_pack_str_with_body(&pk, v[i].s, v[i].len);
	}
	msgpack_pack_str_with_body(&pk, name, strlen(name));
	msgpack_sbuffer_write(&sb, raw, rawlen);
	int rc = decode(sb.data, sb.size, REC_BOOKING, 1, NULL, err);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void test_bad_fields_are_refused_with_a_reason(void **state)
{
	(void)state;
	char err[200], longname[300];

	assert_int_equal(with_field("created_ms", "\xa3" "abc", 4, err), -EPROTO);
	assert_string_equal(err, "created_ms: wrong type");
	assert_int_equal(with_field("created_ms", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, err),
			 -EPROTO);	/* above INT64_MAX */
	assert_int_equal(with_field("is_repeat", "\x01", 1, err), -EPROTO);
	assert_int_equal(with_field("postcode", "\xa3\xff\xfe\xfd", 4, err), -EPROTO);
	assert_string_equal(err, "postcode: not valid UTF-8");
	assert_int_equal(with_field("postcode", "\xa3" "a\0b", 4, err), -EPROTO);
	assert_int_equal(with_field("postcode", "\xa2\xc0\x80", 3, err), -EPROTO);	/* overlong */
	assert_int_equal(with_field("postcode", "\xab" "12345678901", 12, err), -EPROTO);
	assert_string_equal(err, "postcode: longer than its column");
	longname[0] = (char)0xd9;
	longname[1] = (char)255;
	memset(longname + 2, 'n', 255);
	assert_int_equal(with_field("customer_name", longname, 257, err), 0);	/* 255 fits */
	assert_int_equal(with_field("unknown_key", "\xa1x", 2, err), 0);	/* ignored */
}

static void test_missing_required_field_is_refused(void **state)
{
	(void)state;
	struct rec_val v[REC_MAX_FIELDS];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char err[200];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "ref", 3);
	msgpack_pack_str_with_body(&pk, "X", 1);
	assert_int_equal(decode(sb.data, sb.size, REC_BOOKING, 1, NULL, err), -EPROTO);
	assert_non_null(strstr(err, "missing"));
	msgpack_sbuffer_destroy(&sb);
	booking(v);
	v[BK_POSTCODE].present = false;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(record_encode(REC_BOOKING, v, &sb, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "postcode: missing");
	msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_booking_round_trips),
		cmocka_unit_test(test_bad_envelopes_are_refused),
		cmocka_unit_test(test_bad_fields_are_refused_with_a_reason),
		cmocka_unit_test(test_missing_required_field_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
