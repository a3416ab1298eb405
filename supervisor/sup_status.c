/*
 * sup_status.c - capacity and metrics for the dialplan and for Prometheus.
 *
 * <run_dir>/available holds one integer, the calls we would take right now
 * (0 while draining), for a dialplan to read before AudioSocket().
 * <run_dir>/metrics.prom is Prometheus text format for node_exporter's
 * textfile collector. Both are replaced whole (common/file_replace.h), so
 * a reader never sees half a file; once a second and after any change
 * (coalesced to one write per loop iteration, off the accept path).
 */
#include "sup.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/conf.h"
#include "../common/file_replace.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "api/api_stats.h"
#include "writer/bw_stats.h"
#include "../worker/breaker.h"
#include "../worker/wrk_stats.h"

#define METRICS_MAX (128 * 1024)

/* Histogram bucket limits (us), each rounded up to a bucket edge of hist.h. */
static const uint64_t le_us[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
	100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

static uint32_t status_available(const struct sup *s)
{
	if (s->draining)
		return 0;
	return s->nslots - pool_count(s, SLOT_BUSY) - pool_count(s, SLOT_RETIRING);
}

/*
 * The renderers' one way to add text. A line that would take the text past
 * METRICS_MAX is dropped (the whole text is a few tens of KB).
 */
static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)buf_vprintf(b, fmt, ap);
	va_end(ap);
}

static void metric(struct buf *b, const char *name, const char *type, const char *help,
		   unsigned long long v)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

/* One histogram (name, label) from a summed snapshot. */
static void histogram(struct buf *b, const char *name, const char *label,
		      const struct hist_snap *snap)
{
	for (size_t k = 0; k < sizeof(le_us) / sizeof(le_us[0]); k++) {
		uint64_t edge = hist_upper(hist_index(le_us[k] - 1));
		put(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, label, *label ? "," : "",
		    (double)edge / 1e6, (unsigned long long)hist_count_below(snap, edge));
	}
	put(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n",
	    name, label, *label ? "," : "", (unsigned long long)snap->count,
	    name, *label ? "{" : "", label, *label ? "}" : "", (double)snap->sum_us / 1e6,
	    name, *label ? "{" : "", label, *label ? "}" : "", (unsigned long long)snap->count);
}

/* A section this supervisor laid out itself, from the same headers: always there. */
static const void *section(const struct sup *s, const struct shm_section_spec *want)
{
	char err[256];
	void *p;

	if (shm_section_get(&s->shm, want, &p, err, sizeof(err)) < 0)
		panic("sup: %s", err);
	return p;
}

/* The workers' section, one copy per region; as section(), always there. */
static const struct shm_section *worker_section(const struct sup *s)
{
	const struct shm_section *sec;
	char err[256];

	if (shm_section_find(shm_hdr(&s->shm), &wrk_stats_section, &sec, err, sizeof(err)) < 0)
		panic("sup: %s", err);
	return sec;
}

/* Slot i's copy: counters its worker writes, only ever summed here. */
static const struct wrk_stats *worker_stats(const struct sup *s, const struct shm_section *sec,
					    uint32_t i)
{
	return shm_region_section(shm_slot(&s->shm, i), sec);
}

static void writer_metrics(struct buf *b, const struct sup *s)
{
	const struct shm_header *h = shm_hdr(&s->shm);
	const struct bw_stats *w = section(s, &bw_stats_section);
	uint64_t queued = 0;

	for (uint32_t i = 0; i < h->nregions; i++) {
		const struct recq *q = shm_recq(&s->shm, i);
		uint64_t next = atomic_load_explicit(&q->next_seq, memory_order_relaxed);
		uint64_t done = atomic_load_explicit(&q->journaled, memory_order_relaxed);
		/* A worker writes next_seq: never trust it to be sane. */
		queued += next > done + 1 && next - done - 1 < (1u << 20) ? next - done - 1 : 0;
	}
	metric(b, "vagent_records_queued", "gauge", "Records in producer queues, not journaled.",
	       queued);
	metric(b, "vagent_records_journaled_total", "counter", "Records made durable.",
	       atomic_load(&w->journaled_total));
	metric(b, "vagent_records_committed_total", "counter", "Records inserted into MariaDB.",
	       atomic_load(&w->committed_total));
	metric(b, "vagent_records_dead_total", "counter",
	       "Records (or damaged spans) moved to the dead-letter file.",
	       atomic_load(&w->dead_total));
	metric(b, "vagent_db_up", "gauge", "1 while the booking-writer is connected to MariaDB.",
	       atomic_load(&w->db_up));
	metric(b, "vagent_journal_backlog", "gauge", "Records journaled, not yet in MariaDB.",
	       atomic_load(&w->backlog));
	metric(b, "vagent_writer_up", "gauge", "1 while the booking-writer runs.",
	       s->writer.pid != 0);
}

static void writer_histograms(struct buf *b, const struct sup *s)
{
	const struct bw_stats *w = section(s, &bw_stats_section);
	struct hist_snap snap;

	put(b, "# HELP vagent_db_commit_seconds One MariaDB transaction of the booking-writer.\n"
	       "# TYPE vagent_db_commit_seconds histogram\n");
	memset(&snap, 0, sizeof(snap));
	hist_sum(&snap, &w->commit);
	histogram(b, "vagent_db_commit_seconds", "", &snap);
	put(b, "# HELP vagent_journal_fsync_seconds One journal group commit (write + fdatasync).\n"
	       "# TYPE vagent_journal_fsync_seconds histogram\n");
	memset(&snap, 0, sizeof(snap));
	hist_sum(&snap, &w->fsync);
	histogram(b, "vagent_journal_fsync_seconds", "", &snap);
}

/* The providers' breakers (worker/breaker.h): every worker writes them. */
static void breaker_metrics(struct buf *b, const struct sup *s)
{
	const struct brk_section *k = section(s, &brk_section_spec);
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
		{ "vagent_provider_failures_total", "Provider errors and timeouts, by stage.",
		  offsetof(struct brk_stage_state, failures_total) },
		{ "vagent_breaker_opened_total", "Times a stage's breaker opened.",
		  offsetof(struct brk_stage_state, opened_total) },
		{ "vagent_calls_degraded_total", "Calls that ran in a stage's degraded mode.",
		  offsetof(struct brk_stage_state, degraded_total) },
	};

	put(b, "# HELP vagent_breaker_state A stage's breaker: 0 closed, 1 open, 2 half-open.\n"
	       "# TYPE vagent_breaker_state gauge\n");
	for (int i = 0; i < BRK_NSTAGES; i++)
		put(b, "vagent_breaker_state{stage=\"%s\"} %u\n", brk_stage_name(i),
		    (unsigned)atomic_load(&k->st[i].state));
	for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		put(b, "# HELP %s %s\n# TYPE %s counter\n", counters[c].name, counters[c].help,
		    counters[c].name);
		for (int i = 0; i < BRK_NSTAGES; i++) {
			const _Atomic uint64_t *v = (const void *)((const char *)&k->st[i] +
								   counters[c].off);
			put(b, "%s{stage=\"%s\"} %llu\n", counters[c].name, brk_stage_name(i),
			    (unsigned long long)atomic_load(v));
		}
	}
	metric(b, "vagent_calls_overflow_total", "counter",
	       "Calls sent to the overflow engine while a provider's breaker was open.",
	       atomic_load(&k->overflow_total));
}

static void api_metrics(struct buf *b, const struct sup *s)
{
	const struct api_stats *a = section(s, &api_stats_section);

	metric(b, "vagent_api_up", "gauge", "1 while the api process runs.",
	       atomic_load(&a->pid) != 0);
	put(b, "# HELP vagent_api_requests_total HTTP requests answered, by endpoint and class.\n"
	       "# TYPE vagent_api_requests_total counter\n");
	for (int e = 0; e < API_EP_MAX; e++)
		for (int c = 0; c < API_CLASS_MAX; c++)
			put(b, "vagent_api_requests_total{endpoint=\"%s\",code=\"%s\"} %llu\n",
			    api_endpoint_name(e), api_class_name(c),
			    (unsigned long long)atomic_load(&a->requests[e][c]));
}

static void api_histograms(struct buf *b, const struct sup *s)
{
	const struct api_stats *a = section(s, &api_stats_section);
	struct hist_snap snap;
	char label[64];

	put(b, "# HELP vagent_api_request_seconds Time from request to answer.\n"
	       "# TYPE vagent_api_request_seconds histogram\n");
	for (int e = 0; e < API_EP_MAX; e++) {
		memset(&snap, 0, sizeof(snap));
		hist_sum(&snap, &a->latency[e]);
		snprintf(label, sizeof(label), "endpoint=\"%s\"", api_endpoint_name(e));
		histogram(b, "vagent_api_request_seconds", label, &snap);
	}
}

static void histograms(struct buf *b, const struct sup *s)
{
	const struct shm_section *sec = worker_section(s);

	put(b, "# HELP vagent_stage_latency_seconds Latency of each stage of a call.\n"
	       "# TYPE vagent_stage_latency_seconds histogram\n");
	for (int st = 0; st < STAGE_MAX; st++) {
		struct hist_snap snap;
		memset(&snap, 0, sizeof(snap));
		for (uint32_t i = 0; i < s->nslots; i++)
			hist_sum(&snap, &worker_stats(s, sec, i)->hist[st]);
		char label[48];
		snprintf(label, sizeof(label), "stage=\"%s\"", stage_name(st));
		histogram(b, "vagent_stage_latency_seconds", label, &snap);
	}
}

/*
 * Histograms are sums over every slot's buckets: too much work to redo on
 * every call start and end, and nobody scrapes faster than once a second.
 * Their text is kept and re-summed when it is a second old.
 */
static void histogram_text(struct sup *s, struct buf *b)
{
	int64_t now = mono_ns();

	if (!s->hist.len || now - s->hist_at_ns >= NS_PER_S) {
		buf_reset(&s->hist);
		histograms(&s->hist, s);
		writer_histograms(&s->hist, s);
		api_histograms(&s->hist, s);
		s->hist_at_ns = now;
	}
	(void)buf_append(b, s->hist.data, s->hist.len);
}

static void render_metrics(struct buf *b, struct sup *s)
{
	const struct shm_section *sec = worker_section(s);
	uint64_t fin = 0, fout = 0;

	for (uint32_t i = 0; i < s->nslots; i++) {
		const struct wrk_stats *ws = worker_stats(s, sec, i);
		fin += atomic_load_explicit(&ws->frames_in, memory_order_relaxed);
		fout += atomic_load_explicit(&ws->frames_out, memory_order_relaxed);
	}
	metric(b, "vagent_calls_active", "gauge", "Calls in progress.", pool_count(s, SLOT_BUSY));
	metric(b, "vagent_calls_capacity", "gauge", "Most calls at once (max_calls).", s->nslots);
	metric(b, "vagent_calls_available", "gauge", "Calls that would be taken now.",
	       status_available(s));
	metric(b, "vagent_workers_idle", "gauge", "Workers waiting for a call.",
	       pool_count(s, SLOT_IDLE));
	metric(b, "vagent_workers", "gauge", "Worker processes alive.", pool_alive(s));
	metric(b, "vagent_calls_total", "counter", "Calls handed to a worker.", s->calls_total);
	metric(b, "vagent_calls_rejected_total", "counter",
	       "Connections closed at once: at capacity or draining.", s->rejected_total);
	metric(b, "vagent_calls_failed_total", "counter",
	       "Calls ended by an error or a worker's death.", s->failed_total);
	metric(b, "vagent_worker_restarts_total", "counter",
	       "Workers replaced after an unexpected exit.", s->restarts_total);
	metric(b, "vagent_workers_killed_total", "counter", "Workers killed as broken or stuck.",
	       s->workers_killed_total);
	metric(b, "vagent_draining", "gauge", "1 while new calls are turned away.", s->draining);
	metric(b, "vagent_config_generation", "gauge", "Configuration generation.", s->generation);
	metric(b, "vagent_audio_frames_in_total", "counter", "AudioSocket audio frames received.",
	       fin);
	metric(b, "vagent_audio_frames_out_total", "counter", "AudioSocket audio frames sent.",
	       fout);
	writer_metrics(b, s);
	breaker_metrics(b, s);
	api_metrics(b, s);
	histogram_text(s, b);
}

/*
 * Without fsync: both files are rewritten every second, and a stale or
 * missing copy after a crash is replaced as soon as we run again.
 */
void status_write(struct sup *s)
{
	char avail[16];
	struct buf b;
	int rc, rc2;

	snprintf(avail, sizeof(avail), "%u\n", status_available(s));
	rc = file_replace(s->conf->run_dir, "available", avail, strlen(avail), 0644, false);
	buf_init(&b, METRICS_MAX);
	render_metrics(&b, s);
	rc2 = file_replace(s->conf->run_dir, "metrics.prom", buf_str(&b), b.len, 0644, false);
	rc = rc ? rc : rc2;
	buf_free(&b);
	if (rc < 0 && !s->status_warned)	/* once, not once a second */
		log_error("sup", NULL, "cannot write status files in %s: %s",
			  s->conf->run_dir, strerror(-rc));
	s->status_warned = rc < 0;
}

/* Mirrors the private state into the segment header for vagentctl. */
static void mirror(struct sup *s)
{
	struct shm_header *h = shm_hdr(&s->shm);

	atomic_store_explicit(&h->active, pool_count(s, SLOT_BUSY), memory_order_relaxed);
	atomic_store_explicit(&h->idle, pool_count(s, SLOT_IDLE), memory_order_relaxed);
	atomic_store_explicit(&h->calls_total, s->calls_total, memory_order_relaxed);
	atomic_store_explicit(&h->rejected_total, s->rejected_total, memory_order_relaxed);
	atomic_store_explicit(&h->failed_total, s->failed_total, memory_order_relaxed);
	atomic_store_explicit(&h->restarts_total, s->restarts_total, memory_order_relaxed);
}

static void on_status(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	status_write(arg);
}

static void log_rejections(struct sup *s)
{
	uint64_t n = s->rejected_total - s->rejected_logged;

	if (!n)
		return;
	log_warn("sup", NULL, "turned away %llu call(s) in the last second (%s)",
		 (unsigned long long)n, s->draining ? "draining" : "at capacity");
	s->rejected_logged = s->rejected_total;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	(void)fd; (void)what;

	mirror(s);
	log_rejections(s);
	condemn_check(s);
	retention_check(s);
	status_write(s);
	sup_check_stop(s);
}

void status_changed(struct sup *s)
{
	mirror(s);
	if (s->status_ev)
		event_active(s->status_ev, 0, 0);
}

int status_start(struct sup *s)
{
	struct timeval sec = { 1, 0 };

	buf_init(&s->hist, METRICS_MAX);
	s->status_ev = event_new(s->base, -1, 0, on_status, s);
	s->tick_ev = event_new(s->base, -1, EV_PERSIST, on_tick, s);
	if (!s->status_ev || !s->tick_ev || event_add(s->tick_ev, &sec) < 0)
		return -ENOMEM;
	/* Accepting and handing off come first; status files may wait a turn. */
	event_priority_set(s->status_ev, SUP_PRIO_LOW);
	return 0;
}
