/*
 * fuzz_conf.c - the configuration parser on arbitrary file contents.
 *
 * vagent.conf is written by an administrator, not a caller, but reload
 * reads it into a running daemon: a typo must give one error line, never a
 * crash or a value outside its range. The input is written to a memfd and
 * parsed with conf_load_settings (which does not open the files the
 * configuration names); a success must pass conf_check's invariants.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../common/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool engine_known(const char *name)
{
	return !strcmp(name, "echo") || !strcmp(name, "playback") || !strcmp(name, "local");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_conf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	char path[64], err[512];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct conf *c = NULL;
	int rc = conf_load_settings(path, engine_known, &c, err, sizeof(err));
	if (rc == 0) {
		if (c == NULL)
			abort();
		if (c->llm_temperature != c->llm_temperature)	/* NaN */
			abort();
		if (c->max_calls < 1 || c->max_calls > 4096)
			abort();
		conf_free(c);
	} else if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL) {
		abort();
	}
	close(fd);
	return 0;
}
