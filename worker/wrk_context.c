/*
 * wrk_context.c - the dialplan's per-call context file.
 *
 * The file's name comes from the caller's UUID and its directory may be
 * shared with other local users, so whatever sits at that path is input:
 * it is opened without following a symbolic link and without blocking (a
 * FIFO or a leased file would otherwise stop this worker's loop for good),
 * and read only if it is a regular file of at most CONTEXT_MAX_BYTES, read
 * through a bounded buffer (it may still be growing). Anything else is
 * ignored with a warning and the call goes on with an empty context.
 */
#include "context.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"

#define CONTEXT_MAX_BYTES 4096

/* Phone numbers as dialplans write them: digits, '+', '*', '#'. */
static void copy_number(char *dst, size_t len, json_t *v)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	dst[0] = '\0';
	if (!s || strlen(s) >= len)
		return;
	for (const char *p = s; *p; p++)
		if (!strchr("0123456789+*#", *p))
			return;
	memcpy(dst, s, strlen(s) + 1);
}

/*
 * Reads the whole file at path into buf (NUL-terminated). Returns its
 * length, -ENOENT when there is none, or another -errno with *why set.
 */
static ssize_t read_context(const char *path, char *buf, size_t cap, const char **why)
{
	struct stat st;
	size_t len = 0;
	ssize_t n;

	*why = NULL;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		close(fd);
		return -EINVAL;
	}
	if (st.st_size > (off_t)cap - 1) {
		*why = "too large";
		close(fd);
		return -EFBIG;
	}
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len == cap - 1) {
		*why = "too large";	/* it grew after fstat */
		return -EFBIG;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

void context_load(const char *dir, const char *uuid, struct call_context *ctx)
{
	char path[4200], buf[CONTEXT_MAX_BYTES + 1];
	const char *why;
	json_error_t jerr;

	memset(ctx, 0, sizeof(*ctx));
	snprintf(path, sizeof(path), "%s/va_%s.json", dir, uuid);
	ssize_t len = read_context(path, buf, sizeof(buf), &why);
	if (len < 0) {
		if (len != -ENOENT)
			log_warn("call", uuid, "context %s: %s, ignored", path,
				 why ? why : strerror((int)-len));
		return;
	}
	json_t *root = json_loadb(buf, (size_t)len, 0, &jerr);
	if (!root || !json_is_object(root)) {
		log_warn("call", uuid, "context %s: not a JSON object (%s)", path,
			 root ? "wrong type" : jerr.text);
		json_decref(root);
		return;
	}
	copy_number(ctx->did, sizeof(ctx->did), json_object_get(root, "did"));
	copy_number(ctx->cli, sizeof(ctx->cli), json_object_get(root, "cli"));
	json_decref(root);
	if (unlink(path) < 0 && errno != EPERM && errno != EACCES)
		log_debug("call", uuid, "context %s: unlink: %s", path, strerror(errno));
}
