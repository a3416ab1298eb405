/*
 * file_replace.h - replacing a small file whole: write a temporary, rename.
 *
 * Owns: the one way vagent publishes a file that another program reads at
 * any moment (the status and metrics files, the api's cached DID map, the
 * writer's applied-journal marker): a reader sees the old contents or the
 * new, never a half-written file. The temporary is dir/.name.tmp, hidden
 * from collectors that read every file of a directory, opened without
 * following a symlink planted in its place.
 *
 * Must never: leave the temporary behind after a failure, or fsync unless
 * asked (most of these files are rewritten every second and a stale copy
 * after a crash costs nothing; say so at the call site).
 *
 * Fails with 0 or a negative errno from open, write, fsync or rename.
 */
#ifndef VG_FILE_REPLACE_H
#define VG_FILE_REPLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Replaces dir/name with len bytes of data, created with mode (before the
 * umask). durable: fsync the file before the rename and the directory
 * after it, so the new contents survive a power cut.
 */
int file_replace(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
		 bool durable);

/*
 * fsyncs a directory, so that a file created, renamed or removed in it
 * survives a power cut. 0 or -errno.
 */
int file_sync_dir(const char *dir);

#endif
