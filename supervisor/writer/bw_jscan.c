/*
 * bw_jscan.c - finding whole journal records in damaged bytes, in linear time.
 *
 * Owns: the resynchronisation after bytes that are not a record (a flipped
 * bit, a torn write): the next offset where a whole record with a good CRC
 * starts, and the walk of a whole segment that recovery uses. Pure: bytes
 * in, offsets out, no I/O, so the fuzz target runs exactly this code.
 *
 * Why not just try jrec_decode at every offset: each try that finds the
 * magic checksums up to a megabyte, and a damaged span full of magic values
 * (a payload is producer-chosen bytes) made recovery quadratic. Instead the
 * CRC of any span comes from checkpoints (the CRC of every 64-byte prefix
 * from where the damage starts) and zlib's CRC combination: crc(B) =
 * crc(A||B) ^ crc(A) * x^(8|B|) mod P. So one damaged span costs one CRC
 * pass plus a constant per candidate.
 *
 * Never allocates more than 1/16 of the bytes scanned; on no memory it
 * falls back to checking candidates the slow way (still correct).
 */
#include "bw_journal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/crc32.h"

#define CK 64			/* bytes between checkpoints */
#define POLY 0xedb88320u

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* a(x) * b(x) mod P(x), reflected (zlib's multmodp). */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, p = 0;

	for (;;) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
	}
	return p;
}

/* x^(8 * n) mod P(x): the shift of a CRC across n bytes. */
static uint32_t shift_bytes(uint64_t n)
{
	uint32_t p = 1u << 31, x2k = 1u << 30;	/* 1 and x^1 */

	n *= 8;
	while (n) {
		if (n & 1)
			p = multmodp(x2k, p);
		x2k = multmodp(x2k, x2k);
		n >>= 1;
	}
	return p;
}

/* crc(A||B) from crc(A), crc(B) and |B|. */
static uint32_t crc_combine(uint32_t a, uint32_t b, uint64_t blen)
{
	return multmodp(shift_bytes(blen), a) ^ b;
}

void jscan_init(struct jscan *s, const uint8_t *buf, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->buf = buf;
	s->n = n;
}

void jscan_free(struct jscan *s)
{
	free(s->ck);
	s->ck = NULL;
}

/* Checkpoints from base on; false without memory (the caller goes slow). */
static bool ck_start(struct jscan *s, size_t base)
{
	if (s->ck && base >= s->base)
		return true;
	free(s->ck);
	s->base = base;
	s->have = 0;
	s->ck = malloc(((s->n - base) / CK + 1) * sizeof(uint32_t));
	return s->ck != NULL;
}

/* crc(buf[base .. x)). */
static uint32_t prefix_crc(struct jscan *s, size_t x)
{
	size_t k = (x - s->base) / CK;

	if (s->have == 0)
		s->ck[s->have++] = 0;
	while (s->have <= k) {
		s->ck[s->have] = crc32_update(s->ck[s->have - 1],
					      s->buf + s->base + (s->have - 1) * CK, CK);
		s->have++;
	}
	return crc32_update(s->ck[k], s->buf + s->base + k * CK, (x - s->base) % CK);
}

/* crc(buf[a .. b)) for base <= a <= b <= n. */
static uint32_t span_crc(struct jscan *s, size_t a, size_t b)
{
	uint32_t pa = prefix_crc(s, a), pb = prefix_crc(s, b);

	return pb ^ multmodp(shift_bytes(b - a), pa);
}

/* Whether a whole record with a good CRC starts at k (len already checked). */
static bool good_at(struct jscan *s, size_t k, uint32_t len, bool fast)
{
	uint8_t h[JREC_HDR_LEN];
	struct jrec r;

	if (!fast)
		return jrec_decode(s->buf + k, s->n - k, &r) == 1;
	memcpy(h, s->buf + k, JREC_HDR_LEN);
	memset(h + 8, 0, 4);
	uint32_t crc = crc_combine(crc32_update(0, h, JREC_HDR_LEN),
				   span_crc(s, k + JREC_HDR_LEN, k + JREC_HDR_LEN + len), len);
	return crc == rd32(s->buf + k + 8);
}

size_t jscan_next(struct jscan *s, size_t from, bool final)
{
	bool fast = ck_start(s, from);

	for (size_t k = from; k < s->n; k++) {
		if (s->n - k < JREC_HDR_LEN)
			return final ? s->n : k;	/* a header the next read may complete */
		if (rd32(s->buf + k) != JREC_MAGIC)
			continue;
		uint32_t len = rd32(s->buf + k + 4);
		if (len > JREC_MAX_PAYLOAD)
			continue;
		if (s->n - k - JREC_HDR_LEN < len) {
			if (!final)
				return k;		/* may be whole once the rest is read */
			continue;
		}
		if (good_at(s, k, len, fast))
			return k;
	}
	return s->n;
}

int journal_scan(const uint8_t *buf, size_t n, size_t start, bool last,
		 struct jscan_report *rep)
{
	struct jscan s;
	struct jrec r;
	size_t off = 0;

	memset(rep, 0, sizeof(*rep));
	rep->good_end = n;
	jscan_init(&s, buf, n);
	while (off < n) {
		if (jrec_decode(buf + off, n - off, &r) == 1) {
			rep->records += off >= start;	/* not yet applied */
			off += JREC_HDR_LEN + r.len;
			continue;
		}
		size_t next = jscan_next(&s, off + 1, true);
		if (next == n && last) {
			rep->good_end = off;	/* nothing whole after it: a torn write */
			break;
		}
		if (!rep->corrupt_spans)
			rep->first_corrupt = off;
		rep->corrupt_spans++;
		rep->corrupt_bytes += next - off;
		off = next;
	}
	jscan_free(&s);
	return 0;
}

long jscan_walk(const uint8_t *buf, size_t n, bool final, size_t max,
		const struct jwalk_ops *ops)
{
	struct jscan sc;
	size_t off = 0, taken = 0;
	long rc = 0;

	jscan_init(&sc, buf, n);
	while (off < n && taken < max) {
		struct jrec r;
		int d = jrec_decode(buf + off, n - off, &r);
		if (d == 0 && !final)
			break;		/* the rest comes with the next read */
		if (d <= 0) {
			size_t k = jscan_next(&sc, off + 1, final);
			ops->corrupt(ops->arg, off, k - off);
			off = k;
			continue;
		}
		if ((rc = ops->record(ops->arg, off, &r)) < 0)
			break;
		taken++;
		off += JREC_HDR_LEN + r.len;
	}
	jscan_free(&sc);
	return rc < 0 ? rc : (long)off;
}
