/*
 * ctl_top.c - vagentctl top: calls in progress, stages and latencies,
 * refreshed like top(1).
 *
 * Owns: the screen. On a terminal each refresh clears it and draws again;
 * otherwise (a pipe, a log) each refresh is appended as plain lines with
 * a blank line between, so -n 1 is a snapshot for scripts.
 *
 * Latency quantiles come from the workers' histograms, which count every
 * call a worker has served: a call's row shows its worker's turn latency
 * so far, the stage lines all workers'. Only the segment is read.
 */
#include "ctl_live.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/vg_time.h"
#include "../../worker/wrk_stats.h"
#include "../writer/bw_stats.h"

struct top {
	const struct shm_map *m;
	const struct shm_section *wsec;
	const struct bw_stats *bw;
	double delay_s;
	long iters;		/* 0: until Ctrl-C */
	bool tty;
};

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const char *state_name(uint32_t st)
{
	static const char *const names[] = { "empty", "starting", "idle", "busy", "retiring" };
	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

static const struct wrk_stats *stats_of(const struct top *t, uint32_t i)
{
	return shm_region_section(shm_slot(t->m, i), t->wsec);
}

static void ms(char *out, size_t len, uint64_t us, bool have)
{
	if (have)
		snprintf(out, len, "%llu", (unsigned long long)((us + 500) / 1000));
	else
		snprintf(out, len, "-");
}

static void totals(const struct top *t)
{
	const struct shm_header *h = shm_hdr(t->m);
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("vagentd pid %d - %s  generation %u%s\n", h->master_pid, when,
	       atomic_load(&h->generation), atomic_load(&h->draining) ? "  DRAINING" : "");
	printf("capacity %u, busy %u, idle %u; calls %llu, rejected %llu, failed %llu; "
	       "writer %s, MariaDB %s, backlog %llu\n", h->nslots, atomic_load(&h->active),
	       atomic_load(&h->idle), (unsigned long long)atomic_load(&h->calls_total),
	       (unsigned long long)atomic_load(&h->rejected_total),
	       (unsigned long long)atomic_load(&h->failed_total),
	       atomic_load(&t->bw->pid) ? "running" : "NOT RUNNING",
	       atomic_load(&t->bw->db_up) ? "up" : "DOWN",
	       (unsigned long long)atomic_load(&t->bw->backlog));
}

static void stages(const struct top *t)
{
	const struct shm_header *h = shm_hdr(t->m);
	struct hist_snap snap;
	char p50[24], p99[24];

	printf("%-10s %8s %8s %8s\n", "STAGE", "COUNT", "P50ms", "P99ms");
	for (int st = 0; st < STAGE_MAX; st++) {
		memset(&snap, 0, sizeof(snap));
		for (uint32_t i = 0; i < h->nslots; i++)
			hist_sum(&snap, &stats_of(t, i)->hist[st]);
		ms(p50, sizeof(p50), hist_quantile(&snap, 0.50), snap.count);
		ms(p99, sizeof(p99), hist_quantile(&snap, 0.99), snap.count);
		printf("%-10s %8llu %8s %8s\n", stage_name(st), (unsigned long long)snap.count,
		       p50, p99);
	}
}

static void call_row(const struct top *t, uint32_t i, struct slot_info *in)
{
	const struct wrk_stats *s = stats_of(t, i);
	struct hist_snap snap = { 0 };
	char p50[24], p99[24];

	in->uuid[sizeof(in->uuid) - 1] = in->did[sizeof(in->did) - 1] = '\0';
	in->cli[sizeof(in->cli) - 1] = in->engine[sizeof(in->engine) - 1] = '\0';
	hist_sum(&snap, &s->hist[STAGE_TURN]);
	ms(p50, sizeof(p50), hist_quantile(&snap, 0.50), snap.count);
	ms(p99, sizeof(p99), hist_quantile(&snap, 0.99), snap.count);
	printf("%4u %-36s %-14s %-14s %-10s %-8s %7.1f %8llu %8llu %6s %6s\n", i, in->uuid,
	       in->did[0] ? in->did : "-", in->cli[0] ? in->cli : "-", in->engine,
	       state_name(in->state), (double)(mono_ns() - in->start_mono_ns) / NS_PER_S,
	       (unsigned long long)atomic_load(&s->call_frames_in),
	       (unsigned long long)atomic_load(&s->call_frames_out), p50, p99);
}

static void calls(const struct top *t)
{
	const struct shm_header *h = shm_hdr(t->m);
	struct slot_info info;
	unsigned n = 0;

	printf("%4s %-36s %-14s %-14s %-10s %-8s %7s %8s %8s %6s %6s\n", "SLOT", "UUID", "DID",
	       "CLI", "ENGINE", "STATE", "DUR s", "IN", "OUT", "TURN50", "TURN99");
	for (uint32_t i = 0; i < h->nslots; i++) {
		if (slot_read(shm_slot(t->m, i), &info) < 0 || info.state != SLOT_BUSY ||
		    !info.uuid[0])
			continue;
		call_row(t, i, &info);
		n++;
	}
	if (!n)
		printf("(no calls in progress)\n");
}

static void frame(const struct top *t, long k)
{
	if (t->tty)
		fputs("\033[H\033[2J", stdout);
	else if (k)
		putchar('\n');
	totals(t);
	putchar('\n');
	calls(t);
	putchar('\n');
	stages(t);
	fflush(stdout);
}

static int parse(struct top *t, int argc, char **argv)
{
	int opt;
	char *end;

	optind = 1;
	while ((opt = getopt(argc, argv, "d:n:h")) != -1) {
		switch (opt) {
		case 'd':
			t->delay_s = strtod(optarg, &end);
			if (*end || !(t->delay_s >= 0.1 && t->delay_s <= 3600))
				return -1;
			break;
		case 'n':
			t->iters = strtol(optarg, &end, 10);
			if (*end || t->iters < 1)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int ctl_top(const struct shm_map *m, int argc, char **argv)
{
	struct top t = { .m = m, .delay_s = 2 };
	struct sigaction sa = { .sa_handler = on_stop };
	char err[256];
	void *bw;

	if (parse(&t, argc, argv) < 0) {
		fprintf(stderr, "usage: vagentctl top [-d SECONDS] [-n ITERATIONS]\n");
		return 2;
	}
	if (shm_section_find(shm_hdr(m), &wrk_stats_section, &t.wsec, err, sizeof(err)) < 0 ||
	    shm_section_get(m, &bw_stats_section, &bw, err, sizeof(err)) < 0) {
		fprintf(stderr, "vagentctl: shared memory %s: %s\n", m->name, err);
		return 1;
	}
	t.bw = bw;
	t.tty = isatty(STDOUT_FILENO);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (long k = 0; !stop_flag && (!t.iters || k < t.iters); k++) {
		if (k) {
			struct timespec ts = { (time_t)t.delay_s,
					       (long)((t.delay_s - (time_t)t.delay_s) * 1e9) };
			nanosleep(&ts, NULL);	/* Ctrl-C cuts it short */
		}
		if (!stop_flag)
			frame(&t, k);
	}
	return 0;
}
