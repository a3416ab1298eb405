/*
 * sup_handoff.c - removing the hand-off reason files once read.
 *
 * A worker that passes a caller to a person leaves va_<uuid>.handoff in
 * [handoff] dir (worker/agent_handoff.c) for the dialplan, which reads it
 * the moment AudioSocket() returns. Nobody else would ever remove it, and
 * it holds a caller's name and address, so the supervisor does, once it is
 * [handoff] lifetime seconds old: on a coarse timer (a quarter of the
 * lifetime, 1 to 15 s), far from any call's audio, and once at start-up
 * for the files a previous vagentd left behind.
 *
 * Owns: s->handoff_ev. Never: removes anything but regular files named
 * va_*.handoff (not the dialplan's va_*.json, not a symbolic link someone
 * planted), or follows a link.
 * Fails: a directory that cannot be read is logged once per run of
 * failures; the next sweep tries again.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "sup.h"

#define SUFFIX ".handoff"

static bool reason_file(const char *name)
{
	size_t n = strlen(name);

	return !strncmp(name, "va_", 3) && n > 3 + strlen(SUFFIX) &&
	       !strcmp(name + n - strlen(SUFFIX), SUFFIX);
}

/* Removes the reason files older than the lifetime; how many, or -errno. */
static int sweep(const char *dir, int lifetime)
{
	int64_t now = real_ns(), removed = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!reason_file(e->d_name) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		int64_t mtime = (int64_t)st.st_mtim.tv_sec * NS_PER_S + st.st_mtim.tv_nsec;
		if (now - mtime < (int64_t)lifetime * NS_PER_S)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			log_warn("sup", NULL, "hand-off: cannot remove %s/%s: %s", dir, e->d_name,
				 strerror(errno));
	}
	closedir(d);
	return (int)removed;
}

static void schedule(struct sup *s)
{
	int every = s->conf->handoff_lifetime / 4;
	struct timeval tv = { every < 1 ? 1 : every > 15 ? 15 : every, 0 };

	event_add(s->handoff_ev, &tv);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	const char *dir = conf_handoff_dir(s->conf);
	int n = sweep(dir, s->conf->handoff_lifetime);
	(void)fd; (void)what;

	if (n < 0 && !s->handoff_warned)
		log_warn("sup", NULL, "hand-off: cannot read %s: %s", dir, strerror(-n));
	else if (n > 0)
		log_debug("sup", NULL, "hand-off: removed %d reason file(s)", n);
	s->handoff_warned = n < 0;
	schedule(s);	/* the lifetime may have changed with a reload */
}

int handoff_sweep_start(struct sup *s)
{
	s->handoff_ev = event_new(s->base, -1, 0, on_sweep, s);
	if (!s->handoff_ev)
		return -ENOMEM;
	event_priority_set(s->handoff_ev, SUP_PRIO_LOW);
	on_sweep(-1, 0, s);	/* what a previous run left behind */
	return 0;
}
