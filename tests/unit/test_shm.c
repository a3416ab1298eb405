/*
 * test_shm.c - unit tests for the section directory of ipc/shm.h.
 *
 * Protects: a reader finds each owner's section by name where the
 * supervisor laid it out (SEGMENT sections on pages of their own between
 * the doorbell and region 0, REGION sections after struct slot in every
 * region, before the rings); a reader built with another version, scope
 * or size of a section is refused (-EPROTO) and told which section, never
 * handed memory of the wrong shape; a directory entry that points outside
 * its area, or a section count past the directory, is refused or bounded
 * (-ERANGE), never followed; shm_create() refuses a list it cannot lay out.
 * Never: shares a segment between tests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../ipc/shm.h"

static const struct shm_section_spec api = { "api", 1, SHM_SCOPE_SEGMENT, 5000 };
static const struct shm_section_spec writer = { "writer", 3, SHM_SCOPE_SEGMENT, 100 };
static const struct shm_section_spec worker = { "worker", 2, SHM_SCOPE_REGION, 12345 };

static int setup(void **state)
{
	static struct shm_map m;
	const struct shm_section_spec secs[] = { api, worker, writer };

	assert_int_equal(shm_create(&m, "vagent.test", 2, 1, getpid(), secs, 3), 0);
	*state = &m;
	return 0;
}

static int teardown(void **state)
{
	shm_unmap(*state);
	return 0;
}

static void test_segment_sections_are_found_by_name_on_their_own_pages(void **state)
{
	const struct shm_map *m = *state;
	const struct shm_header *h = shm_hdr(m);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *a, *w;

	assert_int_equal(shm_section_get(m, &api, (void **)&a, NULL, 0), 0);
	assert_int_equal(shm_section_get(m, &writer, (void **)&w, NULL, 0), 0);
	assert_int_equal((size_t)(a - (char *)m->base) % pg, 0);
	assert_int_equal((size_t)(w - (char *)m->base) % pg, 0);
	assert_true(a >= (char *)shm_bell(m) + pg);
	assert_true(w >= a + api.size || a >= w + writer.size);
	assert_true(a + api.size <= (char *)shm_slot(m, 0));
	assert_true(w + writer.size <= (char *)shm_slot(m, 0));
	assert_int_equal(h->nsections, 3);
}

static void test_region_section_lies_in_every_region_before_the_rings(void **state)
{
	const struct shm_map *m = *state;
	const struct shm_header *h = shm_hdr(m);
	const struct shm_section *s;

	assert_int_equal(shm_section_find(h, &worker, &s, NULL, 0), 0);
	for (uint32_t i = 0; i < h->nregions; i++) {
		char *region = (char *)shm_slot(m, i);
		char *p = shm_region_section(region, s);
		assert_true(p >= region + sizeof(struct slot));
		assert_true(p + worker.size <= (char *)slot_ring_in(region, h));
	}
	assert_int_equal(shm_section_get(m, &worker, (void **)&s, NULL, 0), -EINVAL);
}

static void test_other_version_size_or_scope_is_refused_by_name(void **state)
{
	const struct shm_header *h = shm_hdr(*state);
	const struct shm_section *s = (void *)1;
	struct shm_section_spec want = api;
	char err[256] = "";

	want.size = api.size + 8;	/* a build with one more endpoint */
	assert_int_equal(shm_section_find(h, &want, &s, err, sizeof(err)), -EPROTO);
	assert_null(s);
	assert_non_null(strstr(err, "\"api\""));
	want = api;
	want.version = 2;
	assert_int_equal(shm_section_find(h, &want, &s, NULL, 0), -EPROTO);
	want = api;
	want.scope = SHM_SCOPE_REGION;
	assert_int_equal(shm_section_find(h, &want, &s, NULL, 0), -EPROTO);
}

static void test_unknown_name_is_not_found(void **state)
{
	const struct shm_section_spec other = { "apix", 1, SHM_SCOPE_SEGMENT, 5000 };
	const struct shm_section *s;
	char err[256] = "";

	assert_int_equal(shm_section_find(shm_hdr(*state), &other, &s, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "\"apix\""));
}

/* The entry of name in the directory, to damage it. */
static struct shm_section *entry(const struct shm_map *m, const char *name)
{
	struct shm_header *h = shm_hdr(m);

	for (uint32_t i = 0; i < h->nsections; i++)
		if (!strcmp(h->sections[i].name, name))
			return &h->sections[i];
	fail();
	return NULL;
}

static void test_entry_outside_its_area_is_refused(void **state)
{
	const struct shm_map *m = *state;
	const struct shm_header *h = shm_hdr(m);
	struct shm_section *e = entry(m, "api");
	const struct shm_section *s;
	void *p = (void *)1;

	e->off = h->slots_off - api.size + 1;	/* runs into region 0 */
	assert_int_equal(shm_section_get(m, &api, &p, NULL, 0), -ERANGE);
	assert_null(p);
	e->off = UINT64_MAX - 10;		/* off + size wraps */
	assert_int_equal(shm_section_get(m, &api, &p, NULL, 0), -ERANGE);
	e->off = 0;				/* over the header */
	assert_int_equal(shm_section_get(m, &api, &p, NULL, 0), -ERANGE);
	e = entry(m, "worker");
	e->off = 0;				/* over struct slot */
	assert_int_equal(shm_section_find(h, &worker, &s, NULL, 0), -ERANGE);
	e->off = h->ring_in_off - worker.size + 1;	/* into the ring */
	assert_int_equal(shm_section_find(h, &worker, &s, NULL, 0), -ERANGE);
}

static void test_section_count_is_bounded_by_the_directory(void **state)
{
	const struct shm_map *m = *state;
	struct shm_header *h = shm_hdr(m);
	const struct shm_section_spec ghost = { "ghost", 1, SHM_SCOPE_SEGMENT, 64 };
	const struct shm_section *s;
	size_t past = offsetof(struct shm_header, sections) +
		      SHM_SECTIONS_MAX * sizeof(struct shm_section);

	/* A well-formed entry just past the directory, in the header's page. */
	assert_true(past + sizeof(struct shm_section) <= h->bell_off);
	struct shm_section *e = (struct shm_section *)((char *)h + past);
	*e = *entry(m, "writer");
	snprintf(e->name, sizeof(e->name), "ghost");
	e->version = 1;
	e->size = 64;
	h->nsections = UINT32_MAX;
	assert_int_equal(shm_section_find(h, &ghost, &s, NULL, 0), -ENOENT);
	assert_int_equal(shm_section_find(h, &writer, &s, NULL, 0), 0);
}

static void test_owner_mapping_shares_the_readers_pages(void **state)
{
	const struct shm_map *m = *state;
	const struct shm_section *s;
	struct shm_map mine;
	uint64_t *seen;

	assert_int_equal(shm_section_find(shm_hdr(m), &writer, &s, NULL, 0), 0);
	assert_int_equal(shm_map_section(&mine, m->fd, s), 0);
	assert_true(mine.size >= writer.size);
	((uint64_t *)mine.base)[3] = 0x1234;
	assert_int_equal(shm_section_get(m, &writer, (void **)&seen, NULL, 0), 0);
	assert_int_equal(seen[3], 0x1234);
	shm_unmap(&mine);
	assert_int_equal(shm_section_find(shm_hdr(m), &worker, &s, NULL, 0), 0);
	assert_int_equal(shm_map_section(&mine, m->fd, s), -EINVAL);
}

static void refused(const struct shm_section_spec *secs, size_t n)
{
	struct shm_map m;

	assert_int_equal(shm_create(&m, "vagent.test", 1, 0, getpid(), secs, n), -EINVAL);
	assert_null(m.base);
	assert_int_equal(m.fd, -1);
}

static void test_create_refuses_a_list_it_cannot_lay_out(void **state)
{
	struct shm_section_spec many[SHM_SECTIONS_MAX + 1];
	char names[SHM_SECTIONS_MAX + 1][16];
	(void)state;

	refused((struct shm_section_spec[]){ api, api }, 2);
	refused((struct shm_section_spec[]){ { "0123456789abcdef", 1, SHM_SCOPE_SEGMENT, 8 } }, 1);
	refused((struct shm_section_spec[]){ { "", 1, SHM_SCOPE_SEGMENT, 8 } }, 1);
	refused((struct shm_section_spec[]){ { NULL, 1, SHM_SCOPE_SEGMENT, 8 } }, 1);
	refused((struct shm_section_spec[]){ { "x", 1, SHM_SCOPE_SEGMENT, 0 } }, 1);
	refused((struct shm_section_spec[]){ { "x", 1, 7, 8 } }, 1);
	for (int i = 0; i <= SHM_SECTIONS_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "s%d", i);
		many[i] = (struct shm_section_spec){ names[i], 1, SHM_SCOPE_REGION, 64 };
	}
	refused(many, SHM_SECTIONS_MAX + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_segment_sections_are_found_by_name_on_their_own_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_region_section_lies_in_every_region_before_the_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_other_version_size_or_scope_is_refused_by_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_name_is_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_outside_its_area_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_section_count_is_bounded_by_the_directory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_owner_mapping_shares_the_readers_pages, setup,
						teardown),
		cmocka_unit_test(test_create_refuses_a_list_it_cannot_lay_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
