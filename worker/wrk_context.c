/*
 * wrk_context.c - the dialplan's per-call context file.
 */
#include "context.h"

#include <errno.h>
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

void context_load(const char *dir, const char *uuid, struct call_context *ctx)
{
	char path[4200];
	struct stat st;
	json_error_t jerr;

	memset(ctx, 0, sizeof(*ctx));
	snprintf(path, sizeof(path), "%s/va_%s.json", dir, uuid);
	FILE *fp = fopen(path, "r");
	if (!fp) {
		if (errno != ENOENT)
			log_warn("call", uuid, "context %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fileno(fp), &st) < 0 || st.st_size > CONTEXT_MAX_BYTES) {
		log_warn("call", uuid, "context %s: larger than %d bytes, ignored",
			 path, CONTEXT_MAX_BYTES);
		fclose(fp);
		return;
	}
	json_t *root = json_loadf(fp, 0, &jerr);
	fclose(fp);
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
