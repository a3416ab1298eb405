/*
 * fuzz_journal.c - journal recovery and the database thread's reading of
 * the journal, on any bytes (a damaged disk, a producer-chosen payload).
 *
 * The first byte chooses the read size of the walk (as batch_load reads
 * at most READ_CHUNK at a time; here small, to cut records often), the
 * next two the applied marker's offset; the rest is one segment. Checks:
 * journal_scan of the last segment cuts only bytes with no whole record
 * after them; and reading the segment in pieces with jscan_walk, as the
 * database thread does, finds exactly the records and damaged bytes that
 * the whole-segment scan finds, always moving forward.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../supervisor/writer/bw_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct count {
	size_t records, corrupt;
	size_t base;		/* offset of this read in the segment */
	size_t last_end;	/* where the previous record or span ended */
};

static int on_record(void *arg, size_t off, const struct jrec *r)
{
	struct count *c = arg;

	if (c->base + off != c->last_end)
		abort();	/* a gap that was neither record nor damage */
	c->records++;
	c->last_end = c->base + off + JREC_HDR_LEN + r->len;
	return 0;
}

static void on_corrupt(void *arg, size_t off, size_t len)
{
	struct count *c = arg;

	if (c->base + off != c->last_end || len == 0)
		abort();
	c->corrupt += len;
	c->last_end = c->base + off + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jscan_report whole, last;
	struct count c = { 0 };
	struct jwalk_ops ops = { &c, on_record, on_corrupt };

	if (size < 3)
		return 0;
	size_t chunk = 33 + data[0] * 4u;
	size_t start = (size_t)data[1] | (size_t)data[2] << 8;
	data += 3;
	size -= 3;

	journal_scan(data, size, start, false, &whole);
	if (whole.good_end != size)
		abort();	/* only the last segment has a torn tail */
	journal_scan(data, size, start, true, &last);
	if (last.good_end > size || last.corrupt_spans > whole.corrupt_spans)
		abort();
	/* What the torn tail cut holds no whole record. */
	struct jscan s;
	jscan_init(&s, data, size);
	if (last.good_end < size && jscan_next(&s, last.good_end, true) != size)
		abort();
	jscan_free(&s);

	/* The database thread's reads, as a closed segment (final at its end). */
	size_t from = 0;
	while (from < size) {
		size_t n = size - from < chunk ? size - from : chunk;
		bool final = from + n == size;
		c.base = from;
		long off = jscan_walk(data + from, n, final, (size_t)-1, &ops);
		if (off < 0 || (size_t)off > n)
			abort();
		if (off == 0) {
			/* A record longer than this read: the product reads more. */
			n = size - from;
			off = jscan_walk(data + from, n, true, (size_t)-1, &ops);
			if (off <= 0)
				abort();
		}
		from += (size_t)off;
	}
	if (c.last_end != size)
		abort();
	if (whole.corrupt_bytes != c.corrupt)
		abort();
	/* Records from the applied marker on are a subset of all of them. */
	struct jscan_report all;
	journal_scan(data, size, 0, false, &all);
	if (all.records != c.records || whole.records > all.records)
		abort();
	return 0;
}
