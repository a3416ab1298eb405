/*
 * test_file_replace.c - unit tests for common/file_replace.h.
 *
 * Protects: the status files, the DID map cache and the journal marker are
 * replaced whole or not at all: the new contents with the asked mode, no
 * temporary left behind after a failed rename, and a symlink planted at
 * the temporary's name refused instead of followed.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/file_replace.h"

struct dir {
	char path[64];
};

static int make_dir(void **state)
{
	struct dir *d = malloc(sizeof(*d));
	snprintf(d->path, sizeof(d->path), "/tmp/vg_file_replace.XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	*state = d;
	return 0;
}

static int remove_dir(void **state)
{
	struct dir *d = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	int rc = system(cmd);
	free(d);
	return rc == 0 ? 0 : -1;
}

static void read_file(const char *dir, const char *name, char *out, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(out, 1, len - 1, fp);
	out[n] = '\0';
	fclose(fp);
}

static bool exists(const char *dir, const char *name)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

static void test_replaces_contents_and_mode(void **state)
{
	struct dir *d = *state;
	char got[64], path[256];
	struct stat st;

	umask(022);
	assert_int_equal(file_replace(d->path, "available", "3\n", 2, 0664, false), 0);
	assert_int_equal(file_replace(d->path, "available", "12\n", 3, 0644, true), 0);
	read_file(d->path, "available", got, sizeof(got));
	assert_string_equal(got, "12\n");
	snprintf(path, sizeof(path), "%s/available", d->path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_false(exists(d->path, ".available.tmp"));
}

static void test_failed_rename_leaves_no_temporary(void **state)
{
	struct dir *d = *state;
	char sub[256];

	snprintf(sub, sizeof(sub), "%s/applied", d->path);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(file_replace(d->path, "applied", "1 2\n", 4, 0600, false), -EISDIR);
	assert_false(exists(d->path, ".applied.tmp"));
	assert_int_equal(file_replace("/nonexistent/dir", "x", "", 0, 0600, false), -ENOENT);
}

static void test_planted_symlink_is_refused(void **state)
{
	struct dir *d = *state;
	char link[256], target[256];

	snprintf(target, sizeof(target), "%s/victim", d->path);
	snprintf(link, sizeof(link), "%s/.did_map.json.tmp", d->path);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(file_replace(d->path, "did_map.json", "[]", 2, 0640, false), -ELOOP);
	assert_false(exists(d->path, "victim"));
	assert_false(exists(d->path, "did_map.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replaces_contents_and_mode, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_failed_rename_leaves_no_temporary, make_dir,
						remove_dir),
		cmocka_unit_test_setup_teardown(test_planted_symlink_is_refused, make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
