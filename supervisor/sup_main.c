/*
 * sup_main.c - vagentd: start-up, the loop, shutdown.
 *
 * Start-up order matters: configuration (fail early, name the key), the
 * pidfile lock (so a second instance cannot unlink the first one's
 * segment), the listener (may need root), daemonising, the shared
 * segment, dropping privileges, then the loop. Every failure before the
 * loop is fatal with one line saying what and where.
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
#include <sys/stat.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../worker/engine.h"
#include "api.h"
#include "bw.h"

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

/* Takes the pidfile's lock for the life of the process. */
static void lock_pidfile(struct sup *s)
{
	snprintf(s->pid_path, sizeof(s->pid_path), "%s/vagentd.pid", s->conf->run_dir);
	s->pid_fd = open(s->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->pid_fd < 0)
		fatal("pidfile %s: %s", s->pid_path, strerror(errno));
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

/* As root with a user configured: hand our files over, then become that user. */
static void drop_privileges(struct sup *s)
{
	const struct conf *c = s->conf;

	if (geteuid() != 0)
		return;
	if (!c->user[0]) {
		log_warn("sup", NULL, "running as root: set [vagentd] user");
		return;
	}
	struct passwd *pw = getpwnam(c->user);
	if (!pw) {
		shm_unlink(s->shm.name);
		fatal("[vagentd] user: no such user '%s'", c->user);
	}
	if (chown(c->run_dir, pw->pw_uid, pw->pw_gid) < 0 ||
	    chown(c->journal_dir, pw->pw_uid, pw->pw_gid) < 0 ||
	    fchown(s->shm.fd, pw->pw_uid, pw->pw_gid) < 0 ||
	    fchown(s->pid_fd, pw->pw_uid, pw->pw_gid) < 0)
		fatal("handing files to %s: %s", c->user, strerror(errno));
	if (c->log_file[0] && chown(c->log_file, pw->pw_uid, pw->pw_gid) < 0)
		fatal("log file %s: chown: %s", c->log_file, strerror(errno));
	if (initgroups(c->user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		fatal("cannot become user %s: %s", c->user, strerror(errno));
	if (setuid(0) == 0)
		fatal("dropped privileges but could regain root");
}

/* In the forked booking-writer: only the segment and the log stay open. */
void sup_run_writer(struct sup *s)
{
	int keep[] = { s->shm.fd, log_fd() };

	child_reset(keep, 2);	/* signals stay blocked: the writer uses sigwait() */
	writer_main(s->conf, s->shm.fd, s->shm.base, s->shm.size);
}

/* In the forked api: the segment, its listener and the log. */
void sup_run_api(struct sup *s)
{
	int keep[] = { s->shm.fd, s->api_fd, log_fd() };

	child_reset(keep, 3);
	api_main(s->conf, s->api_fd, s->shm.fd, s->shm.base, s->shm.size, s->api.region);
}

/* Start-up failed after the segment exists: do not leave it behind. */
static void start_failed(struct sup *s, const char *what)
{
	if (s->shm.base)
		shm_unlink(s->shm.name);
	fatal("%s", what);
}

static void start(struct sup *s)
{
	char err[1024], name[64], real[PATH_MAX];
	int rc;

	if ((rc = mkdir_p(s->conf->run_dir, 0755)) < 0)
		fatal("run_dir %s: %s", s->conf->run_dir, strerror(-rc));
	if ((rc = mkdir_p(s->conf->journal_dir, 0700)) < 0)
		fatal("[writer] journal_dir %s: %s", s->conf->journal_dir, strerror(-rc));
	lock_pidfile(s);
	if (listen_open(s, err, sizeof(err)) < 0)
		fatal("%s", err);
	if (s->conf->api_enabled &&
	    listen_tcp(s->conf->api_host, s->conf->api_port, 511, &s->api_fd, err, sizeof(err)) < 0)
		fatal("[api] %s", err);
	shm_name_for(realpath(s->conf->run_dir, real) ? real : s->conf->run_dir,
		     name, sizeof(name));
	if ((rc = shm_create(&s->shm, name, (uint32_t)s->conf->max_calls,
			     (uint32_t)s->conf->extra_producers + SHM_API_REGIONS - 1, (int)getpid())) < 0)
		fatal("shared memory %s: %s", name, strerror(-rc));
	drop_privileges(s);
	if (control_open(s, err, sizeof(err)) < 0)
		start_failed(s, err);
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
	    pool_init(s) < 0 || listen_start(s) < 0 ||
	    child_init(s, &s->writer, "booking-writer", true, sup_run_writer) < 0 ||
	    child_init(s, &s->api, "api", s->conf->api_enabled, sup_run_api) < 0)
		fatal("cannot register events");
	atomic_store(&shm_hdr(&s->shm)->generation, s->generation);
	pool_maintain(s);
	status_write(s);
	log_info("sup", NULL, "vagentd %s listening on %s: max_calls %d, engine %s",
		 VAGENT_VERSION, s->conf->listen, s->conf->max_calls, s->conf->engine);
	notify_systemd("READY=1");
}

static void shutdown_all(struct sup *s)
{
	status_write(s);	/* last word: draining, 0 available */
	for (size_t i = 0; i < sizeof(s->sig_ev) / sizeof(s->sig_ev[0]); i++)
		if (s->sig_ev[i])
			event_free(s->sig_ev[i]);
	event_free(s->listen_ev);
	close(s->listen_fd);
	control_close(s);
	event_free(s->tick_ev);
	event_free(s->status_ev);
	pool_free(s);
	child_free(&s->writer);
	child_free(&s->api);
	free(s->hist_text);
	if (s->api_fd >= 0)
		close(s->api_fd);
	shm_unlink(s->shm.name);
	shm_unmap(&s->shm);
	unlink(s->pid_path);
	close(s->pid_fd);
	event_base_free(s->base);
	log_info("sup", NULL, "stopped");
	conf_free(s->conf);
}

int main(int argc, char **argv)
{
	struct sup s = { .conf_path = VAGENT_CONF, .generation = 1, .listen_fd = -1,
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
	if (log_open("vagentd", s.conf->log_file, use_syslog, s.conf->log_level) < 0)
		fatal("log file %s: %s", s.conf->log_file, strerror(errno));
	start(&s);
	event_base_dispatch(s.base);
	shutdown_all(&s);
	return 0;
}
