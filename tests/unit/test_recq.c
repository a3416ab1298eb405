/*
 * test_recq.c - unit tests for ipc/recq.h, the record queue between a
 * producer and the booking-writer.
 *
 * Protects: records come out as they went in, across the end of the ring;
 * the writer reads with the size the layout gives it, so a producer that
 * writes any value into its queue's cap, mask, head, tail or record
 * headers makes the writer refuse the queue (-EPROTO), never read outside
 * it (these run under ASan in make check); a reset after a condemnation
 * never reports a dropped record as journaled (issue item 2) and keeps
 * sequence numbers growing.
 * Never: shares a queue between tests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../ipc/recq.h"

#define CAP 4096u

static struct recq *q_new(void)
{
	size_t bytes = (recq_bytes(CAP) + 63) & ~(size_t)63;
	struct recq *q = aligned_alloc(64, bytes);

	assert_non_null(q);
	memset(q, 0xa5, bytes);
	recq_init(q, CAP, 7);
	return q;
}

static uint64_t put(struct recq *q, const char *s)
{
	uint64_t seq = 0;

	assert_int_equal(recq_put(q, 1, 1, s, (uint32_t)strlen(s), &seq), 0);
	return seq;
}

/* Reads one record as the writer does; returns recq_read's answer. */
static int rd(struct recq *q, uint64_t *pos, uint64_t *expect, char *out)
{
	uint8_t buf[CAP];
	struct recq_rec rec;
	int rc = recq_read(q, CAP, pos, expect, &rec, buf, sizeof(buf));

	if (rc == 1 && out) {
		memcpy(out, buf, rec.len);
		out[rec.len] = '\0';
	}
	return rc;
}

static void test_records_come_out_in_order_across_the_end(void **state)
{
	(void)state;
	struct recq *q = q_new();
	uint64_t pos = 0, expect = 0;
	char out[CAP];

	for (int round = 0; round < 200; round++) {
		char msg[64];
		snprintf(msg, sizeof(msg), "record %d %.*s", round, round % 40, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		uint64_t seq = put(q, msg);
		assert_int_equal(seq, (uint64_t)round + 1);
		assert_int_equal(rd(q, &pos, &expect, out), 1);
		assert_string_equal(out, msg);
		recq_release(q, pos, seq);
		assert_int_equal(recq_state(q, seq), RECQ_JOURNALED);
	}
	assert_int_equal(rd(q, &pos, &expect, out), 0);
	assert_true(pos > CAP);		/* really went round */
	free(q);
}

/* Issue item 1: cap = mask = 0xffffffff made the writer read past its mapping. */
static void test_hostile_cap_and_mask_are_refused_not_used(void **state)
{
	(void)state;
	struct recq *q = q_new();
	uint64_t pos = 0, expect = 0;

	put(q, "a booking");
	q->cap = q->mask = 0xffffffffu;
	assert_int_equal(recq_check(q, CAP, 7), -EPROTO);
	/* The read itself uses the layout's size: still inside the ring. */
	assert_int_equal(rd(q, &pos, &expect, NULL), 1);
	/* And the producer refuses to write through a damaged cap. */
	uint64_t seq;
	assert_int_equal(recq_put(q, 1, 1, "x", 1, &seq), -EPROTO);
	q->cap = CAP;
	q->mask = CAP - 1;
	q->index = 8;
	assert_int_equal(recq_check(q, CAP, 7), -EPROTO);
	q->index = 7;
	assert_int_equal(recq_check(q, CAP, 7), 0);
	free(q);
}

static void test_hostile_head_and_positions_are_refused(void **state)
{
	(void)state;
	struct recq *q = q_new();
	uint64_t pos = 0, expect = 0;
	static const uint64_t heads[] = { CAP + 8, 8, 0xffffffffffffff00ull, 3, CAP * 2 };

	put(q, "one");
	for (size_t k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
		atomic_store(&q->head, heads[k]);
		pos = 0;
		expect = 0;
		assert_int_equal(rd(q, &pos, &expect, NULL), -EPROTO);
		assert_int_equal(pos, 0);
	}
	atomic_store(&q->head, 24);
	pos = 4;	/* a private position is never unaligned, but be strict */
	assert_int_equal(rd(q, &pos, &expect, NULL), -EPROTO);
	free(q);
}

static void test_hostile_record_headers_are_refused(void **state)
{
	(void)state;
	struct recq *q = q_new();
	uint8_t *data = (uint8_t *)(q + 1);
	uint64_t pos, expect;
	uint32_t lens[] = { CAP, 0xffffffffu, CAP / 4, 100 };

	put(q, "0123456789");
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		memcpy(data, &lens[k], 4);
		pos = expect = 0;
		assert_int_equal(rd(q, &pos, &expect, NULL), -EPROTO);
	}
	uint32_t ok = 10;
	memcpy(data, &ok, 4);
	data[6] = 1;		/* the reserved bytes must be zero */
	pos = expect = 0;
	assert_int_equal(rd(q, &pos, &expect, NULL), -EPROTO);
	data[6] = 0;
	uint64_t zero = 0;
	memcpy(data + 8, &zero, 8);	/* seq 0 is never issued */
	pos = expect = 0;
	assert_int_equal(rd(q, &pos, &expect, NULL), -EPROTO);
	free(q);
}

static void test_out_of_sequence_record_is_refused(void **state)
{
	(void)state;
	struct recq *q = q_new();
	uint64_t pos = 0, expect = 0;

	put(q, "one");
	put(q, "two");
	assert_int_equal(rd(q, &pos, &expect, NULL), 1);
	assert_int_equal(expect, 2);
	uint64_t seq = 99;	/* a producer that rewrites the second record's seq */
	memcpy((uint8_t *)(q + 1) + pos + 8, &seq, 8);
	assert_int_equal(rd(q, &pos, &expect, NULL), -EPROTO);
	free(q);
}

static void test_copy_raw_is_bounded_by_the_layout(void **state)
{
	(void)state;
	struct recq *q = q_new();
	uint8_t out[CAP];

	put(q, "evidence");
	assert_int_equal(recq_copy_raw(q, CAP, 0, out), 24);
	atomic_store(&q->head, 1ull << 40);
	assert_int_equal(recq_copy_raw(q, CAP, 0, out), CAP);
	free(q);
}

/* Issue item 2: a producer polling a dropped record was told JOURNALED. */
static void test_reset_never_reports_a_dropped_record_journaled(void **state)
{
	(void)state;
	struct recq *q = q_new();
	uint64_t pos = 0, expect = 0;

	uint64_t s1 = put(q, "journaled");
	uint64_t s2 = put(q, "dropped");
	uint64_t s3 = put(q, "dropped too");
	assert_int_equal(rd(q, &pos, &expect, NULL), 1);
	recq_release(q, pos, s1);
	uint32_t req = recq_condemn(q);
	assert_true(recq_condemned(q));
	assert_false(recq_reset_done(q, req));
	assert_int_equal(recq_reset(q, CAP, 7), 2);
	assert_true(recq_reset_done(q, req));
	assert_false(recq_condemned(q));
	assert_int_equal(recq_state(q, s2), RECQ_LOST);

	/* The writer reads again from the reset position; a new record lands. */
	pos = recq_tail(q);
	expect = 0;
	uint64_t s4 = put(q, "after the reset");
	assert_true(s4 > s3);
	assert_int_equal(rd(q, &pos, &expect, NULL), 1);
	recq_release(q, pos, s4);
	assert_int_equal(recq_state(q, s1), RECQ_JOURNALED);
	assert_int_equal(recq_state(q, s2), RECQ_LOST);
	assert_int_equal(recq_state(q, s3), RECQ_LOST);
	assert_int_equal(recq_state(q, s4), RECQ_JOURNALED);
	recq_commit(q, s4, 42);
	assert_int_equal(recq_state(q, s2), RECQ_LOST);
	assert_int_equal(recq_state(q, s4), RECQ_COMMITTED);
	free(q);
}

static void test_two_resets_in_a_row_keep_both_ranges_lost(void **state)
{
	(void)state;
	struct recq *q = q_new();

	uint64_t s1 = put(q, "a");
	recq_condemn(q);
	recq_reset(q, CAP, 7);
	uint64_t s2 = put(q, "b");
	recq_condemn(q);
	recq_reset(q, CAP, 7);
	uint64_t s3 = put(q, "c");
	uint64_t pos = recq_tail(q), expect = 0;
	assert_int_equal(rd(q, &pos, &expect, NULL), 1);
	recq_release(q, pos, s3);
	assert_int_equal(recq_state(q, s1), RECQ_LOST);
	assert_int_equal(recq_state(q, s2), RECQ_LOST);
	assert_int_equal(recq_state(q, s3), RECQ_JOURNALED);
	free(q);
}

static void test_reset_repairs_a_scribbled_queue(void **state)
{
	(void)state;
	struct recq *q = q_new();

	put(q, "x");
	q->cap = q->mask = 0xffffffffu;
	q->index = 12345;
	atomic_store(&q->head, 0xdeadbeefull);
	atomic_store(&q->tail, 17);
	atomic_store(&q->next_seq, ~0ull);	/* claims every seq there is */
	atomic_store(&q->owner_pid, 4242);
	recq_condemn(q);
	uint64_t dropped = recq_reset(q, CAP, 7);
	assert_true(dropped <= CAP / RECQ_HDR_LEN);	/* bounded by what could fit */
	assert_int_equal(recq_check(q, CAP, 7), 0);
	assert_int_equal(atomic_load(&q->owner_pid), 0);
	assert_int_equal(recq_head(q), recq_tail(q));
	uint64_t seq = put(q, "works again");
	uint64_t pos = recq_tail(q), expect = 0;
	assert_int_equal(rd(q, &pos, &expect, NULL), 1);
	assert_true(seq > 0);
	free(q);
}

static void test_full_queue_says_enobufs(void **state)
{
	(void)state;
	struct recq *q = q_new();
	char big[CAP / 4 - RECQ_HDR_LEN];
	uint64_t seq;
	int n = 0, rc;

	memset(big, 'b', sizeof(big));
	while ((rc = recq_put(q, 1, 1, big, sizeof(big), &seq)) == 0)
		n++;
	assert_int_equal(rc, -ENOBUFS);
	assert_int_equal(n, 4);	/* each takes exactly a quarter */
	assert_int_equal(recq_put(q, 1, 1, big, sizeof(big) + 1, &seq), -EMSGSIZE);
	free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_come_out_in_order_across_the_end),
		cmocka_unit_test(test_hostile_cap_and_mask_are_refused_not_used),
		cmocka_unit_test(test_hostile_head_and_positions_are_refused),
		cmocka_unit_test(test_hostile_record_headers_are_refused),
		cmocka_unit_test(test_out_of_sequence_record_is_refused),
		cmocka_unit_test(test_copy_raw_is_bounded_by_the_layout),
		cmocka_unit_test(test_reset_never_reports_a_dropped_record_journaled),
		cmocka_unit_test(test_two_resets_in_a_row_keep_both_ranges_lost),
		cmocka_unit_test(test_reset_repairs_a_scribbled_queue),
		cmocka_unit_test(test_full_queue_says_enobufs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
