/*
 * sup_retention.c - call recordings older than [call] recording_days go.
 *
 * Owns: the sweep of recording_dir, once an hour from the supervisor's
 * one-second tick, and at once after a start or a reload (a shorter
 * recording_days takes effect without waiting an hour). Only regular
 * *.wav files directly in the directory are looked at, by their mtime;
 * links and subdirectories are left alone, so a link planted there cannot
 * make vagentd remove a file elsewhere.
 *
 * Why here: the supervisor already wakes every second and never touches
 * audio, so the sweep costs no wake-up of its own and never runs on a
 * call's path. A sweep is a readdir and an fstatat per file (a month of
 * a busy line is tens of thousands of names, milliseconds); the calls
 * rows keep their paths and the api answers 404 for a file that is gone.
 * Fails: a directory that cannot be read is logged once per sweep.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "sup.h"

#define SWEEP_EVERY_NS (3600 * NS_PER_S)

static bool is_wav(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, ".wav");
}

static void sweep(const struct conf *c)
{
	DIR *d = opendir(c->recording_dir);
	time_t cutoff = time(NULL) - (time_t)c->recording_days * 86400;
	struct dirent *e;
	struct stat st;
	unsigned removed = 0, failed = 0;

	if (!d) {
		if (errno != ENOENT)	/* nothing recorded yet */
			log_warn("sup", NULL, "recordings: %s: %s", c->recording_dir,
				 strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		if (!is_wav(e->d_name) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime >= cutoff)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
		else
			failed++;
	}
	closedir(d);
	if (removed || failed)
		log_info("sup", NULL, "removed %u recording(s) older than %d days from %s%s",
			 removed, c->recording_days, c->recording_dir,
			 failed ? " (some could not be removed)" : "");
}

void retention_check(struct sup *s)
{
	int64_t now = mono_ns();

	if (now < s->retention_next_ns && s->retention_gen == s->generation)
		return;
	s->retention_next_ns = now + SWEEP_EVERY_NS;
	s->retention_gen = s->generation;
	sweep(s->conf);
}
