/*
 * context.h - who a call is for: the dialplan's per-call context file.
 *
 * Owns: reading <context_dir>/va_<uuid>.json, which the dialplan writes
 * before AudioSocket() as {"did": "...", "cli": "..."} (seed section 13).
 * Missing, oversized or malformed files, and anything at that path that is
 * not a regular file (a FIFO, a symbolic link, a device), give an empty
 * context (the fallback) without ever blocking; values are kept only if
 * they look like phone numbers.
 * The file is removed once read: each UUID is used once, and the seed's
 * dialplan never cleans up after itself.
 */
#ifndef VG_CONTEXT_H
#define VG_CONTEXT_H

struct call_context {
	char did[32];
	char cli[32];
};

/* Fills ctx (empty strings when unknown). Never fails the call. */
void context_load(const char *dir, const char *uuid, struct call_context *ctx);

#endif
