/*
 * vagentctl.c - look at and steer a running vagentd.
 *
 * Reading (status, calls, latency) maps the shared segment read-only and
 * never disturbs the daemon: slots are read through their sequence
 * counters, so a line is never half of one call and half of the next.
 * Steering (reload, drain, resume, stop) goes through the daemon's control
 * socket and prints its one-line answer; the exit status says whether the
 * daemon agreed.
 *
 * The run directory comes from -r, or from the configuration (-c); the
 * segment is found through the pidfile there (ipc/shm.h says how), and
 * each statistics section by its name, refused (with that name) when the
 * daemon is another build than this vagentctl.
 *
 * Helpers return 0 or -errno; the cmd_*() functions and control() return
 * the exit status (0, 1 failed, 2 usage), which is what main() passes on.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../common/conf.h"
#include "../../common/vg_time.h"
#include "../../ipc/shm.h"
#include "../api/api_stats.h"
#include "../writer/bw_stats.h"
#include "../../worker/breaker.h"
#include "../../worker/wrk_stats.h"
#include "ctl_call.h"
#include "ctl_db.h"
#include "ctl_live.h"
#include "ctl_provision.h"

#ifndef VAGENT_CONF
#define VAGENT_CONF "/etc/vagent/vagent.conf"
#endif

struct ctl {
	char run_dir[PATH_MAX];
	bool json;
	int wait_s;		/* drain -w */
	struct shm_map shm;
};

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: vagentctl [-c FILE | -r RUN_DIR] COMMAND [-j] [-w SECONDS]\n"
		"  status    capacity, active and idle workers, counters\n"
		"  calls     one line per call in progress\n"
		"  latency   per-stage latency quantiles\n"
		"  reload    re-read the configuration (new calls use it)\n"
		"  drain     stop taking calls; -w SECONDS waits for calls to end\n"
		"  resume    take calls again after drain\n"
		"  stop      drain, then exit (as SIGTERM)\n"
		"  db migrate [-s SQL_DIR]  apply pending schema migrations ([db] of -c FILE)\n"
		"  db status [-s SQL_DIR]   schema version and pending migrations\n"
		"  provision elevenlabs [--dry-run]  create or update the cloud agent and its tools\n"
		"  listen UUID [-o FILE.wav] [--in|--out|--both] [--raw]\n"
		"            a live call's audio (stdout: vagentctl listen UUID | aplay)\n"
		"  top [-d SECONDS] [-n ITERATIONS]  calls, stages and latencies, refreshed\n"
		"  call NUMBER --did DID [--var K=V]... [--via twilio|elevenlabs]\n"
		"            place an outbound call that an agent answers\n"
		"  announce NUMBER --text TEXT [--did DID]  call and play a spoken message\n"
		"  -j        JSON output (status, calls, latency)\n");
}

/* Any engine name will do: vagentctl only needs run_dir from the file. */
static bool any_engine(const char *name)
{
	(void)name;
	return true;
}

static int run_dir_from_conf(struct ctl *c, const char *path)
{
	struct conf *conf;
	char err[1024];
	int rc;

	if ((rc = conf_load_settings(path, any_engine, &conf, err, sizeof(err))) < 0) {
		fprintf(stderr, "vagentctl: %s\n", err);
		return rc;
	}
	snprintf(c->run_dir, sizeof(c->run_dir), "%s", conf->run_dir);
	conf_free(conf);
	return 0;
}

static int open_shm(struct ctl *c)
{
	char err[512];
	int rc;

	if ((rc = shm_open_ro(&c->shm, c->run_dir, err, sizeof(err))) < 0)
		fprintf(stderr, "vagentctl: %s\n", err);
	return rc;
}

/*
 * A section of the segment, as this vagentctl was built to read it; NULL,
 * said once, when the daemon is another build.
 */
static const void *section(const struct ctl *c, const struct shm_section_spec *want)
{
	char err[256];
	void *p;

	if (shm_section_get(&c->shm, want, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "vagentctl: shared memory %s: %s\n", c->shm.name, err);
		return NULL;
	}
	return p;
}

/* The workers' section, one copy per region; NULL as above. */
static const struct shm_section *worker_section(const struct ctl *c)
{
	const struct shm_section *sec;
	char err[256];

	if (shm_section_find(shm_hdr(&c->shm), &wrk_stats_section, &sec, err, sizeof(err)) < 0) {
		fprintf(stderr, "vagentctl: shared memory %s: %s\n", c->shm.name, err);
		return NULL;
	}
	return sec;
}

/* Slot i's copy of it: what its worker wrote, only summed and printed. */
static const struct wrk_stats *worker_stats(const struct ctl *c, const struct shm_section *sec,
					    uint32_t i)
{
	return shm_region_section(shm_slot(&c->shm, i), sec);
}

static uint32_t count_state(const struct ctl *c, enum slot_state st)
{
	const struct shm_header *h = shm_hdr(&c->shm);
	struct slot_info info;
	uint32_t n = 0;

	for (uint32_t i = 0; i < h->nslots; i++)
		if (slot_read(shm_slot(&c->shm, i), &info) == 0 && info.state == st)
			n++;
	return n;
}

/* The providers' breakers, a line of text or JSON members. */
static void print_breakers(const struct brk_section *b, bool json)
{
	printf(json ? ",\"breakers\":{" : "breakers: ");
	for (int i = 0; i < BRK_NSTAGES; i++) {
		const struct brk_stage_state *st = &b->st[i];
		const char *state = brk_state_name(atomic_load(&st->state));
		unsigned long long deg = (unsigned long long)atomic_load(&st->degraded_total);
		if (json)
			printf("%s\"%s\":{\"state\":\"%s\",\"degraded_total\":%llu}", i ? "," : "",
			       brk_stage_name(i), state, deg);
		else
			printf("%s%s %s (%llu degraded calls)", i ? ", " : "", brk_stage_name(i),
			       state, deg);
	}
	unsigned long long over = (unsigned long long)atomic_load(&b->overflow_total);
	if (json)
		printf("},\"overflow_total\":%llu", over);
	else
		printf("; %llu calls to the overflow engine\n", over);
}

static int cmd_status(struct ctl *c)
{
	const struct shm_header *h = shm_hdr(&c->shm);
	unsigned active = atomic_load(&h->active), draining = atomic_load(&h->draining);
	unsigned retiring = count_state(c, SLOT_RETIRING);
	unsigned avail = draining ? 0 : h->nslots - active - retiring;
	const struct api_stats *api = section(c, &api_stats_section);
	const struct bw_stats *w = section(c, &bw_stats_section);
	const struct brk_section *brk = section(c, &brk_section_spec);

	if (!api || !w || !brk)
		return 1;

	if (c->json) {
		printf("{\"master_pid\":%d,\"capacity\":%u,\"active\":%u,\"idle\":%u,"
		       "\"available\":%u,\"draining\":%s,\"generation\":%u,\"calls_total\":%llu,"
		       "\"rejected_total\":%llu,\"failed_total\":%llu,\"restarts_total\":%llu,"
		       "\"writer_pid\":%d,\"db_up\":%s,\"records_journaled_total\":%llu,"
		       "\"records_committed_total\":%llu,\"records_dead_total\":%llu,"
		       "\"journal_backlog\":%llu,\"api_pid\":%d",
		       h->master_pid, h->nslots, active, atomic_load(&h->idle), avail,
		       draining ? "true" : "false", atomic_load(&h->generation),
		       (unsigned long long)atomic_load(&h->calls_total),
		       (unsigned long long)atomic_load(&h->rejected_total),
		       (unsigned long long)atomic_load(&h->failed_total),
		       (unsigned long long)atomic_load(&h->restarts_total),
		       atomic_load(&w->pid), atomic_load(&w->db_up) ? "true" : "false",
		       (unsigned long long)atomic_load(&w->journaled_total),
		       (unsigned long long)atomic_load(&w->committed_total),
		       (unsigned long long)atomic_load(&w->dead_total),
		       (unsigned long long)atomic_load(&w->backlog),
		       atomic_load(&api->pid));
		print_breakers(brk, true);
		printf("}\n");
		return 0;
	}
	printf("vagentd pid %d, generation %u%s\n", h->master_pid, atomic_load(&h->generation),
	       draining ? ", DRAINING" : "");
	printf("calls:    %u active, %u available, capacity %u\n", active, avail, h->nslots);
	printf("workers:  %u idle\n", atomic_load(&h->idle));
	printf("totals:   %llu calls, %llu rejected, %llu failed, %llu worker restarts\n",
	       (unsigned long long)atomic_load(&h->calls_total),
	       (unsigned long long)atomic_load(&h->rejected_total),
	       (unsigned long long)atomic_load(&h->failed_total),
	       (unsigned long long)atomic_load(&h->restarts_total));
	printf("writer:   %s, MariaDB %s; records %llu journaled, %llu committed, %llu dead, "
	       "%llu waiting\n", atomic_load(&w->pid) ? "running" : "NOT RUNNING",
	       atomic_load(&w->db_up) ? "up" : "DOWN",
	       (unsigned long long)atomic_load(&w->journaled_total),
	       (unsigned long long)atomic_load(&w->committed_total),
	       (unsigned long long)atomic_load(&w->dead_total),
	       (unsigned long long)atomic_load(&w->backlog));
	printf("api:      %s\n", atomic_load(&api->pid) ? "running" :
	       "not running");
	print_breakers(brk, false);
	return 0;
}

static void print_call(const struct ctl *c, const struct shm_section *sec, uint32_t i,
		       const struct slot_info *in, bool first)
{
	const struct wrk_stats *s = worker_stats(c, sec, i);
	double dur = (double)(mono_ns() - in->start_mono_ns) / NS_PER_S;
	unsigned long long fin = atomic_load(&s->call_frames_in);
	unsigned long long fout = atomic_load(&s->call_frames_out);

	if (c->json) {
		printf("%s{\"slot\":%u,\"pid\":%d,\"uuid\":\"%s\",\"did\":\"%s\",\"cli\":\"%s\","
		       "\"engine\":\"%s\",\"rate\":%u,\"duration_s\":%.1f,\"frames_in\":%llu,"
		       "\"frames_out\":%llu}", first ? "" : ",", i, in->pid, in->uuid, in->did,
		       in->cli, in->engine, in->rate, dur, fin, fout);
		return;
	}
	printf("%-36s  %-14s  %-14s  %-8s  %6.1fs  %8llu  %8llu  %5u\n", in->uuid,
	       in->did[0] ? in->did : "-", in->cli[0] ? in->cli : "-", in->engine, dur,
	       fin, fout, in->rate);
}

static int cmd_calls(struct ctl *c)
{
	const struct shm_header *h = shm_hdr(&c->shm);
	const struct shm_section *sec = worker_section(c);
	struct slot_info info;
	bool first = true;

	if (!sec)
		return 1;
	if (c->json)
		printf("[");
	else
		printf("%-36s  %-14s  %-14s  %-8s  %7s  %8s  %8s  %5s\n", "UUID", "DID", "CLI",
		       "ENGINE", "DURATION", "IN", "OUT", "RATE");
	for (uint32_t i = 0; i < h->nslots; i++) {
		if (slot_read(shm_slot(&c->shm, i), &info) < 0 || info.state != SLOT_BUSY ||
		    !info.uuid[0])
			continue;
		info.uuid[sizeof(info.uuid) - 1] = info.did[sizeof(info.did) - 1] = '\0';
		info.cli[sizeof(info.cli) - 1] = info.engine[sizeof(info.engine) - 1] = '\0';
		print_call(c, sec, i, &info, first);
		first = false;
	}
	if (c->json)
		printf("]\n");
	return 0;
}

static int cmd_latency(struct ctl *c)
{
	const struct shm_header *h = shm_hdr(&c->shm);
	const struct shm_section *sec = worker_section(c);
	struct hist_snap snap;

	if (!sec)
		return 1;
	if (c->json)
		printf("{");
	for (int st = 0; st < STAGE_MAX; st++) {
		memset(&snap, 0, sizeof(snap));
		for (uint32_t i = 0; i < h->nslots; i++)
			hist_sum(&snap, &worker_stats(c, sec, i)->hist[st]);
		unsigned long long p50 = hist_quantile(&snap, 0.50), p90 = hist_quantile(&snap, 0.90);
		unsigned long long p99 = hist_quantile(&snap, 0.99);
		if (c->json)
			printf("%s\"%s\":{\"count\":%llu,\"p50_us\":%llu,\"p90_us\":%llu,"
			       "\"p99_us\":%llu}", st ? "," : "", stage_name(st),
			       (unsigned long long)snap.count, p50, p90, p99);
		else
			printf("%-10s count %8llu  p50 %8llu us  p90 %8llu us  p99 %8llu us\n",
			       stage_name(st), (unsigned long long)snap.count, p50, p90, p99);
	}
	if (c->json)
		printf("}\n");
	return 0;
}

/* Sends one command line to control.sock and prints the answer. */
static int control(struct ctl *c, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char reply[1400];
	ssize_t n;
	size_t got = 0;

	if (strlen(c->run_dir) + sizeof("/control.sock") > sizeof(sa.sun_path)) {
		fprintf(stderr, "vagentctl: run_dir %s is too long for a Unix socket\n", c->run_dir);
		return 1;
	}
	memcpy(sa.sun_path, c->run_dir, strlen(c->run_dir));
	strcat(sa.sun_path, "/control.sock");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "vagentctl: %s: %s (is vagentd running?)\n", sa.sun_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	dprintf(fd, "%s\n", cmd);
	while (got < sizeof(reply) - 1 &&
	       (n = read(fd, reply + got, sizeof(reply) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	reply[got] = '\0';
	fputs(reply, stdout);
	return strncmp(reply, "ok", 2) == 0 ? 0 : 1;
}

static int cmd_drain(struct ctl *c)
{
	int rc = control(c, "drain");

	if (rc || c->wait_s <= 0)
		return rc;
	if (open_shm(c) < 0)
		return 1;
	int64_t deadline = mono_ns() + c->wait_s * NS_PER_S;
	while (atomic_load(&shm_hdr(&c->shm)->active) > 0) {
		if (mono_ns() > deadline) {
			fprintf(stderr, "vagentctl: %u call(s) still active after %d s\n",
				atomic_load(&shm_hdr(&c->shm)->active), c->wait_s);
			return 1;
		}
		usleep(200 * 1000);
	}
	printf("no calls active\n");
	return 0;
}

static int run(struct ctl *c, const char *cmd)
{
	if (!strcmp(cmd, "reload") || !strcmp(cmd, "resume") || !strcmp(cmd, "stop"))
		return control(c, cmd);
	if (!strcmp(cmd, "drain"))
		return cmd_drain(c);
	int (*fn)(struct ctl *) = !strcmp(cmd, "status") ? cmd_status :
				  !strcmp(cmd, "calls") ? cmd_calls :
				  !strcmp(cmd, "latency") ? cmd_latency : NULL;
	if (!fn) {
		fprintf(stderr, "vagentctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (open_shm(c) < 0)
		return 1;
	return fn(c);
}

/* Commands with words and options of their own, run from the configuration. */
static const struct {
	const char *word;
	int (*fn)(const struct conf *c, int argc, char **argv);
} subcommands[] = {
	{ "db", ctl_db },
	{ "provision", ctl_provision },
	{ "call", ctl_call },
	{ "announce", ctl_announce },
};

/* Commands with words and options of their own, on the mapped segment. */
static const struct {
	const char *word;
	int (*fn)(const struct shm_map *m, int argc, char **argv);
} live_commands[] = {
	{ "listen", ctl_listen },
	{ "top", ctl_top },
};

static int live_command(const char *a)
{
	for (size_t i = 0; i < sizeof(live_commands) / sizeof(live_commands[0]); i++)
		if (!strcmp(a, live_commands[i].word))
			return (int)i;
	return -1;
}

static bool is_subcommand(const char *a)
{
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(a, subcommands[i].word))
			return true;
	return live_command(a) >= 0;
}

/*
 * "db" has words and options of its own (db migrate -s DIR), as have the
 * other subcommands: find it before getopt, which would permute them, so
 * that only what comes before it is parsed as vagentctl's options. Returns
 * its index, or 0.
 */
static int db_word(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			return i + 1 < argc && is_subcommand(argv[i + 1]) ? i + 1 : 0;
		if (a[0] != '-' || !a[1])
			return is_subcommand(a) ? i : 0;
		for (const char *p = a + 1; *p; p++)
			if (strchr("crw", *p)) {	/* takes a value: -cFILE or -c FILE */
				if (!p[1])
					i++;
				break;
			}
	}
	return 0;
}

static int cmd_db(const char *conf_path, const char *word, int argc, char **argv)
{
	struct conf *conf;
	char err[1024];
	int rc;

	if (conf_load_settings(conf_path, any_engine, &conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "vagentctl: %s\n", err);
		return 1;
	}
	rc = 2;
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(word, subcommands[i].word))
			rc = subcommands[i].fn(conf, argc, argv);
	conf_free(conf);
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl c = { .shm = { .fd = -1 } };
	const char *conf_path = VAGENT_CONF, *cmd;
	bool have_run_dir = false;
	int opt, rc, db_at = db_word(argc, argv);

	/* GNU getopt permutes: options may come before or after the command. */
	while ((opt = getopt(db_at ? db_at : argc, argv, "c:r:jw:h")) != -1) {
		switch (opt) {
		case 'c': conf_path = optarg; break;
		case 'r': snprintf(c.run_dir, sizeof(c.run_dir), "%s", optarg);
			  have_run_dir = true; break;
		case 'j': c.json = true; break;
		case 'w': c.wait_s = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (db_at && live_command(argv[db_at]) >= 0) {
		if (!have_run_dir && run_dir_from_conf(&c, conf_path) < 0)
			return 1;
		if (open_shm(&c) < 0)
			return 1;
		rc = live_commands[live_command(argv[db_at])].fn(&c.shm, argc - db_at, argv + db_at);
		shm_unmap(&c.shm);
		return rc;
	}
	if (db_at)
		return cmd_db(conf_path, argv[db_at], argc - db_at - 1, argv + db_at + 1);
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (!have_run_dir && run_dir_from_conf(&c, conf_path) < 0)
		return 1;
	rc = run(&c, cmd);
	shm_unmap(&c.shm);
	return rc;
}
