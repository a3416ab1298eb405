/*
 * sup_main.c - vagentd: start-up, the loop, shutdown.
 *
 * Start-up order matters: configuration (fail early, name the key), the
 * pidfile lock (so a second instance cannot unlink the first one's
 * segment), the listener (may need root), daemonising, the shared
 * segment, dropping privileges, then the loop. Every failure before the
 * loop is fatal with one line saying what and where.
 *
 * Started as root (sysvinit), we work in directories that belong to the
 * service user, who may have planted links there: the pidfile and the log
 * are opened without following a link or blocking, and accepted only as
 * regular files with one name owned by us or by that user; directories
 * are handed over with fchown() on a descriptor reached without following
 * a link the service user could have made, never chown() on a path.
 * vagentd makes itself not dumpable first thing, so no process of the
 * service user (a worker included) can ptrace it or open its descriptors
 * through /proc; its children inherit that (ipc/shm.h says what it buys).
 */
#include "sup.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../worker/engine.h"
#include "../worker/tls_client.h"
#include "../worker/breaker.h"
#include "../worker/wrk_stats.h"
#include "api/api.h"
#include "api/api_stats.h"
#include "writer/bw.h"
#include "writer/bw_stats.h"

#ifndef VAGENT_CONF
#define VAGENT_CONF "/etc/vagent/vagent.conf"
#endif
#ifndef VAGENT_VERSION
#define VAGENT_VERSION "0.1.0"
#endif

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: vagentd [-c FILE] [-f] [-t] [-V]\n"
		"  -c FILE  configuration (default " VAGENT_CONF ")\n"
		"  -f       stay in the foreground (systemd, terminals)\n"
		"  -t       check the configuration and exit\n"
		"  -V       print the version and exit\n");
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Started as root with a user configured: whom we become, before any file is touched. */
static void resolve_user(struct sup *s)
{
	const struct conf *c = s->conf;

	if (geteuid() != 0 || !c->user[0])
		return;
	struct passwd *pw = getpwnam(c->user);
	if (!pw)
		fatal("[vagentd] user: no such user '%s'", c->user);
	s->become = true;
	s->uid = pw->pw_uid;
	s->gid = pw->pw_gid;
}

/*
 * A file we write while root, in a directory the service user may own: a
 * regular file with no other name, owned by root or by that user (a file
 * of theirs gains them nothing). 0 or -EMLINK / -EPERM / -errno.
 */
static int check_file(const struct sup *s, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		return -EMLINK;
	if (geteuid() == 0 && st.st_uid != 0 && !(s->become && st.st_uid == s->uid))
		return -EPERM;
	return 0;
}

static const char *refusal(int rc)
{
	if (rc == -EMLINK || rc == -ELOOP)
		return "a symbolic link, not a regular file, or a file with other names; refusing it";
	if (rc == -EPERM)
		return "owned by another user; refusing it";
	return strerror(-rc);
}

/* Takes the pidfile's lock for the life of the process. */
static void lock_pidfile(struct sup *s)
{
	int rc;

	snprintf(s->pid_path, sizeof(s->pid_path), "%s/vagentd.pid", s->conf->run_dir);
	s->pid_fd = open(s->pid_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
			 O_CLOEXEC, 0644);
	rc = s->pid_fd < 0 ? -errno : check_file(s, s->pid_fd);
	if (rc < 0)
		fatal("pidfile %s: %s", s->pid_path, refusal(rc));
	if (flock(s->pid_fd, LOCK_EX | LOCK_NB) < 0) {
		char buf[32] = "";
		if (read(s->pid_fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = '\0';
		fatal("another vagentd (pid %d) uses run_dir %s", atoi(buf), s->conf->run_dir);
	}
}

static void write_pidfile(struct sup *s)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(s->pid_fd, 0) < 0 || pwrite(s->pid_fd, buf, (size_t)n, 0) != n)
		fatal("pidfile %s: %s", s->pid_path, strerror(errno));
}

static void daemonize(void)
{
	pid_t pid = fork();

	if (pid < 0)
		fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		fatal("setsid: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		fatal("chdir /: %s", strerror(errno));
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (log_fd() != 2)
			dup2(fd, 2);	/* logs go to the file or syslog */
		if (fd > 2)
			close(fd);
	}
}

/* A directory root trusts the contents of: root's, writable by no one else. */
static bool trusted_dir(int dfd)
{
	struct stat st;

	return fstat(dfd, &st) == 0 && st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH));
}

/*
 * Opens directory path for fchown(). A symbolic link is followed only
 * where it lies in a directory of root's that no one else may write (as
 * /var/run -> /run): one the service user could have planted never is.
 * The descriptor or -errno (-ELOOP for a refused link).
 */
static int open_dir_safely(const char *path)
{
	char buf[PATH_MAX], *save = NULL;
	struct stat st;

	if (path[0] != '/' || strlen(path) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", path);
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (char *comp = strtok_r(buf, "/", &save); fd >= 0 && comp;
	     comp = strtok_r(NULL, "/", &save)) {
		int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
		if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
			if (!trusted_dir(fd)) {
				close(fd);
				return -ELOOP;
			}
			flags &= ~O_NOFOLLOW;
		}
		int next = openat(fd, comp, flags);
		int err = errno;
		close(fd);
		fd = next < 0 ? -err : next;
	}
	return fd;
}

/* Gives directory path to the service user, through a descriptor. */
static void hand_dir(const struct sup *s, const char *what, const char *path)
{
	int fd = open_dir_safely(path);

	if (fd < 0 || fchown(fd, s->uid, s->gid) < 0)
		fatal("%s %s: cannot hand it to %s: %s", what, path, s->conf->user,
		      fd == -ELOOP ? "a symbolic link in a directory not only root's; refusing it" :
		      strerror(fd < 0 ? -fd : errno));
	close(fd);
}

/*
 * The context directory is created private when it is missing; one that
 * exists is the administrator's (it may be a shared one) and is left as is.
 */
static void make_context_dir(struct sup *s)
{
	const char *dir = s->conf->context_dir;
	int rc = 0;

	if (mkdir(dir, 0700) < 0)
		rc = errno == ENOENT ? mkdir_p(dir, 0700) : -errno;
	if (rc == -EEXIST)
		return;
	if (rc < 0)
		log_warn("sup", NULL, "[call] context_dir %s: %s", dir, strerror(-rc));
	else if (s->become)
		hand_dir(s, "[call] context_dir", dir);
}

/* As root with a user configured: hand our files over, then become that user. */
static void drop_privileges(struct sup *s)
{
	const struct conf *c = s->conf;
	int rc;

	if (geteuid() != 0)
		return;
	if (!s->become) {
		log_warn("sup", NULL, "running as root: set [vagentd] user");
		return;
	}
	hand_dir(s, "run_dir", c->run_dir);
	hand_dir(s, "[writer] journal_dir", c->journal_dir);
	/* The pidfile stays root's: we write it through the descriptor we hold. */
	if (log_fd() > 2) {
		rc = check_file(s, log_fd());
		if (rc == 0 && fchown(log_fd(), s->uid, s->gid) < 0)
			rc = -errno;
		if (rc < 0)
			fatal("log file %s: %s", c->log_file, refusal(rc));
	}
	if (initgroups(c->user, s->gid) < 0 || setgid(s->gid) < 0 || setuid(s->uid) < 0)
		fatal("cannot become user %s: %s", c->user, strerror(errno));
	if (setuid(0) == 0)
		fatal("dropped privileges but could regain root");
}

/* In the forked booking-writer: only the segment and the log stay open. */
static void sup_run_writer(struct sup *s)
{
	int keep[] = { s->shm.fd, log_fd() };

	child_reset(keep, 2);	/* signals stay blocked: the writer uses sigwait() */
	writer_main(s->conf, s->shm.fd, s->shm.base, s->shm.size);
}

/* In the forked api: the segment, its listener and the log. */
static void sup_run_api(struct sup *s)
{
	int keep[] = { s->shm.fd, s->api_fd, log_fd() };

	child_reset(keep, 3);
	api_main(s->conf, s->api_fd, s->shm.fd, s->shm.base, s->shm.size, s->api.region);
}

static void start(struct sup *s)
{
	/* Each statistics section is described by the program that writes it. */
	const struct shm_section_spec sections[] = {
		api_stats_section,
		bw_stats_section,
		wrk_stats_section,
		brk_section_spec,
	};
	char err[1024], name[64], real[PATH_MAX];
	int rc;

	if ((rc = mkdir_p(s->conf->run_dir, 0755)) < 0)
		fatal("run_dir %s: %s", s->conf->run_dir, strerror(-rc));
	if ((rc = mkdir_p(s->conf->journal_dir, 0700)) < 0)
		fatal("[writer] journal_dir %s: %s", s->conf->journal_dir, strerror(-rc));
	resolve_user(s);
	lock_pidfile(s);
	if (listen_open(s, err, sizeof(err)) < 0)
		fatal("%s", err);
	if (s->conf->api_enabled &&
	    listen_tcp(s->conf->api_host, s->conf->api_port, 511, &s->api_fd, err, sizeof(err)) < 0)
		fatal("[api] %s", err);
	shm_name_for(realpath(s->conf->run_dir, real) ? real : s->conf->run_dir,
		     name, sizeof(name));
	if ((rc = shm_create(&s->shm, name, (uint32_t)s->conf->max_calls,
			     (uint32_t)s->conf->extra_producers + SHM_API_REGIONS - 1, (int)getpid(),
			     sections, sizeof(sections) / sizeof(sections[0]))) < 0)
		fatal("shared memory %s: %s", name, strerror(-rc));
	make_context_dir(s);
	if (tls_client_new(&s->tls, err, sizeof(err)) < 0)	/* each worker then builds its own */
		log_warn("sup", NULL, "%s; workers will load the CA store each", err);
	drop_privileges(s);
	if (control_open(s, err, sizeof(err)) < 0)
		fatal("%s", err);
	/*
	 * Everything that can fail has been tried while whoever started us
	 * still waits for the exit status; only now go to the background.
	 */
	if (!s->foreground)
		daemonize();
	write_pidfile(s);
	shm_hdr(&s->shm)->master_pid = (int32_t)getpid();

	s->base = event_base_new();
	if (!s->base || event_base_priority_init(s->base, SUP_PRIOS) < 0)
		fatal("cannot create the event loop");
	if (control_start(s) < 0 || signals_start(s) < 0 || status_start(s) < 0 ||
	    handoff_sweep_start(s) < 0 || pool_init(s) < 0 || listen_start(s) < 0 ||
	    child_init(s, &s->writer, "booking-writer", true, sup_run_writer) < 0 ||
	    child_init(s, &s->api, "api", s->conf->api_enabled, sup_run_api) < 0)
		fatal("cannot register events");
	atomic_store(&shm_hdr(&s->shm)->generation, s->generation);
	pool_maintain(s);
	status_write(s);
	log_info("sup", NULL, "vagentd %s listening on %s%s%s: max_calls %d, engine %s",
		 VAGENT_VERSION, s->conf->listen, s->twilio_fd >= 0 ? ", twilio on " : "",
		 s->twilio_fd >= 0 ? s->conf->twilio_listen : "", s->conf->max_calls,
		 s->conf->engine);
	notify_systemd("READY=1");
}

static void shutdown_all(struct sup *s)
{
	status_write(s);	/* last word: draining, 0 available */
	for (size_t i = 0; i < sizeof(s->sig_ev) / sizeof(s->sig_ev[0]); i++)
		if (s->sig_ev[i])
			event_free(s->sig_ev[i]);
	listen_close(s);
	control_close(s);
	event_free(s->tick_ev);
	event_free(s->status_ev);
	if (s->handoff_ev)
		event_free(s->handoff_ev);
	pool_free(s);
	child_free(&s->writer);
	child_free(&s->api);
	buf_free(&s->hist);
	tls_client_free(s->tls);
	if (s->api_fd >= 0)
		close(s->api_fd);
	shm_unmap(&s->shm);
	unlink(s->pid_path);
	close(s->pid_fd);
	event_base_free(s->base);
	log_info("sup", NULL, "stopped");
	conf_free(s->conf);
}

int main(int argc, char **argv)
{
	struct sup s = { .conf_path = VAGENT_CONF, .generation = 1, .listen_fd = -1, .twilio_fd = -1,
			 .ctl_fd = -1, .pid_fd = -1, .api_fd = -1 };
	bool test_only = false;
	char err[1024];
	int opt;

	while ((opt = getopt(argc, argv, "c:ftVh")) != -1) {
		switch (opt) {
		case 'c': s.conf_path = optarg; break;
		case 'f': s.foreground = true; break;
		case 't': test_only = true; break;
		case 'V': printf("vagentd %s\n", VAGENT_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Before any secret is read or any child exists: no ptrace, no /proc/<pid>/fd. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("prctl PR_SET_DUMPABLE: %s", strerror(errno));
	if (conf_load(s.conf_path, engine_known, &s.conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "vagentd: %s\n", err);
		return 1;
	}
	if (test_only) {
		printf("vagentd: %s: configuration ok\n", s.conf_path);
		conf_free(s.conf);
		return 0;
	}
	/* A daemon with no terminal and no log file logs to syslog. */
	bool use_syslog = s.conf->syslog || (!s.foreground && !s.conf->log_file[0]);
	/* Before any fork or thread: libcurl's (and OpenSSL's) global set-up. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = log_open("vagentd", s.conf->log_file, use_syslog, s.conf->log_level);
	if (rc < 0)
		fatal("log file %s: %s", s.conf->log_file, refusal(rc));
	start(&s);
	event_base_dispatch(s.base);
	shutdown_all(&s);
	return 0;
}
