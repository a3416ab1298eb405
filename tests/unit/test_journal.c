/*
 * test_journal.c - unit tests for the booking-writer's journal recovery
 * (supervisor/bw_journal.h: jrec_decode, journal_scan, jscan_next,
 * journal_open).
 *
 * Protects: a torn tail exists only at the end of the last segment and
 * only when no whole record follows; a flipped bit in a length field in the
 * middle of a segment, or a length that runs past the end of the file, is
 * corruption and every good record after it is kept (issue item 5); a
 * segment that is not the last is never truncated; recovery over a large
 * damaged span (full of magic values, as a hostile payload could be) takes
 * linear time (issue item 3); journal_open on disk keeps fsync'd records
 * after damage and clamps an applied marker past a truncation; the applied
 * marker reads back as written and is the writer's alone (mode 0600).
 * Never: touches anything outside its own temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../supervisor/writer/bw_journal.h"

struct seg {
	uint8_t *buf;
	size_t n;
	size_t off[64];		/* where record k starts */
	int nrec;
};

static void add(struct seg *s, uint64_t seq, size_t len)
{
	uint8_t payload[4096];
	struct jrec r = { .len = (uint32_t)len, .producer = 3, .type = 1, .version = 1,
			  .seq = seq, .epoch = 77 };

	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)(seq * 31 + i);
	s->buf = realloc(s->buf, s->n + JREC_HDR_LEN + len);
	assert_non_null(s->buf);
	s->off[s->nrec++] = s->n;
	s->n += jrec_encode(s->buf + s->n, &r, payload);
}

static struct seg make(int records)
{
	struct seg s = { 0 };

	for (int k = 0; k < records; k++)
		add(&s, (uint64_t)k + 1, 40 + (size_t)k * 13);
	return s;
}

static void test_clean_segment_has_every_record(void **state)
{
	(void)state;
	struct seg s = make(10);
	struct jscan_report rep;

	journal_scan(s.buf, s.n, 0, true, &rep);
	assert_int_equal(rep.records, 10);
	assert_int_equal(rep.good_end, s.n);
	assert_int_equal(rep.corrupt_spans, 0);
	journal_scan(s.buf, s.n, s.off[4], true, &rep);
	assert_int_equal(rep.records, 6);	/* only those after the applied marker */
	free(s.buf);
}

static void test_torn_tail_of_last_segment_is_cut(void **state)
{
	(void)state;
	struct seg s = make(10);
	struct jscan_report rep;

	journal_scan(s.buf, s.off[9] + 20, 0, true, &rep);	/* half of the last record */
	assert_int_equal(rep.records, 9);
	assert_int_equal(rep.good_end, s.off[9]);
	assert_int_equal(rep.corrupt_spans, 0);
	/* A segment that is not the last is never cut: the bytes are damage. */
	journal_scan(s.buf, s.off[9] + 20, 0, false, &rep);
	assert_int_equal(rep.good_end, s.off[9] + 20);
	assert_int_equal(rep.corrupt_spans, 1);
	free(s.buf);
}

/* Issue item 5: one flipped length bit mid-segment cut every record after it. */
static void test_flipped_length_bit_mid_segment_keeps_what_follows(void **state)
{
	(void)state;
	for (int bit = 0; bit < 24; bit++) {
		struct seg s = make(10);
		struct jscan_report rep;
		s.buf[s.off[4] + 4 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		journal_scan(s.buf, s.n, 0, true, &rep);
		assert_int_equal(rep.good_end, s.n);
		assert_int_equal(rep.records, 9);	/* all but the damaged one */
		assert_int_equal(rep.corrupt_spans, 1);
		assert_int_equal(rep.first_corrupt, s.off[4]);
		assert_int_equal(rep.corrupt_bytes, s.off[5] - s.off[4]);
		free(s.buf);
	}
}

/* Found by fuzzing: a length past the end of the file is not always a torn tail. */
static void test_length_past_end_with_records_after_is_corruption(void **state)
{
	(void)state;
	struct seg s = make(6);
	struct jscan_report rep;
	uint32_t huge = JREC_MAX_PAYLOAD;	/* valid as a length, past the end */

	memcpy(s.buf + s.off[2] + 4, &huge, 4);
	journal_scan(s.buf, s.n, 0, true, &rep);
	assert_int_equal(rep.records, 5);
	assert_int_equal(rep.good_end, s.n);
	free(s.buf);
}

static void test_jscan_next_stops_where_a_cut_record_may_start(void **state)
{
	(void)state;
	struct seg s = make(4);
	struct jscan sc;

	memset(s.buf + s.off[1], 0xee, 8);	/* damage record 1 */
	jscan_init(&sc, s.buf, s.n);
	assert_int_equal(jscan_next(&sc, s.off[1] + 1, true), s.off[2]);
	jscan_free(&sc);
	/* A read that ends inside record 3: not final, so stop at its start. */
	jscan_init(&sc, s.buf, s.off[3] + 40);
	assert_int_equal(jscan_next(&sc, s.off[2] + 1, false), s.off[3]);
	assert_int_equal(jscan_next(&sc, s.off[2] + 1, true), s.off[3] + 40);
	jscan_free(&sc);
	free(s.buf);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Issue item 3: recovery over a 64 KiB damaged span took 6 s (quadratic).
 * Here 1 MiB of damage full of magic values with plausible lengths, then
 * good records: linear takes well under a second; quadratic, hours.
 */
static void test_recovery_over_a_megabyte_of_damage_is_linear(void **state)
{
	(void)state;
	size_t gap = 1u << 20;
	struct seg s = make(3);
	uint8_t *buf = malloc(gap + s.n);
	struct jscan_report rep;

	assert_non_null(buf);
	for (size_t k = 0; k + 8 <= gap; k += 8) {
		uint32_t magic = JREC_MAGIC, len = (uint32_t)(k % 4096) * 16;
		memcpy(buf + k, &magic, 4);
		memcpy(buf + k + 4, &len, 4);
	}
	memcpy(buf + gap, s.buf, s.n);
	double t0 = now_s();
	journal_scan(buf, gap + s.n, 0, true, &rep);
	double took = now_s() - t0;
	assert_int_equal(rep.records, 3);
	assert_int_equal(rep.corrupt_bytes, gap);
	assert_true(took < 20.0);	/* generous for a loaded machine: ~0.5 s here */
	print_message("recovery over 1 MiB of damage: %.3f s\n", took);
	free(buf);
	free(s.buf);
}

/* On disk: journal_open keeps records after a flipped bit, truncates only a torn tail. */
static void test_journal_open_keeps_fsynced_records_after_damage(void **state)
{
	(void)state;
	char dir[] = "/tmp/vg-test-journal-XXXXXX", path[PATH_MAX + 32], err[512] = "";
	struct seg s = make(8);
	struct journal j;
	uint64_t pending = 0;

	assert_non_null(mkdtemp(dir));
	s.buf[s.off[3] + 6] ^= 0x04;		/* a length bit of record 3 */
	journal_seg_path(path, sizeof(path), dir, 1);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(s.buf, 1, s.n, fp), s.n);
	assert_int_equal(fwrite(s.buf, 1, 20, fp), 20);	/* and a torn tail */
	fclose(fp);
	assert_int_equal(marker_store(dir, (struct jpos){ 1, s.n + 20 }), 0);
	assert_int_equal(journal_open(&j, dir, 1 << 20, &pending, err, sizeof(err)), 0);
	assert_int_equal(j.size, s.n);		/* only the torn tail went */
	struct jpos m;
	assert_int_equal(marker_load(dir, &m), 0);
	assert_int_equal(m.off, s.n);		/* the marker no longer points past the end */
	journal_close(&j);
	assert_int_equal(journal_open(&j, dir, 1 << 20, &pending, err, sizeof(err)), 0);
	assert_int_equal(j.size, s.n);
	journal_close(&j);
	marker_store(dir, (struct jpos){ 1, 0 });
	assert_int_equal(journal_open(&j, dir, 1 << 20, &pending, err, sizeof(err)), 0);
	assert_int_equal(pending, 7);		/* every record but the damaged one */
	journal_close(&j);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(s.buf);
}

/* The applied marker: read back as written, private to the writer, no temporary left. */
static void test_marker_round_trip_is_private(void **state)
{
	(void)state;
	char dir[] = "/tmp/vg-test-journal-XXXXXX", path[PATH_MAX + 32];
	struct jpos m;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	mode_t old = umask(022);
	assert_int_equal(marker_store(dir, (struct jpos){ 12345678901ull, 42 }), 0);
	assert_int_equal(marker_store(dir, (struct jpos){ 7, 4096 }), 0);
	umask(old);
	assert_int_equal(marker_load(dir, &m), 0);
	assert_int_equal(m.seg, 7);
	assert_int_equal(m.off, 4096);
	snprintf(path, sizeof(path), "%s/applied", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/.applied.tmp", dir);
	assert_int_equal(access(path, F_OK), -1);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_segment_has_every_record),
		cmocka_unit_test(test_torn_tail_of_last_segment_is_cut),
		cmocka_unit_test(test_flipped_length_bit_mid_segment_keeps_what_follows),
		cmocka_unit_test(test_length_past_end_with_records_after_is_corruption),
		cmocka_unit_test(test_jscan_next_stops_where_a_cut_record_may_start),
		cmocka_unit_test(test_recovery_over_a_megabyte_of_damage_is_linear),
		cmocka_unit_test(test_journal_open_keeps_fsynced_records_after_damage),
		cmocka_unit_test(test_marker_round_trip_is_private),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
