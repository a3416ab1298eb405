/*
 * emu_ws_conn.c - what every websocket connection of vagent-emu's TEST
 * DOUBLES does alike, whatever the protocol on it: a message reassembled
 * from its fragments, an injected fault applied to what goes out, our
 * close frame sent once, the query recorded (see emu_ws.h).
 *
 * Owns: nothing beyond the structs the caller hands in (struct ws_rx's
 * buffer, freed by ws_rx_free).
 * Never: decides anything of a protocol (close codes, reasons, the junk
 * sent are the caller's); runs off the thread of the connection's lws
 * context.
 * Fails: -ENOMEM / -E2BIG from ws_rx_take, -1 from a failed write; the
 * caller closes that connection.
 */
#include "emu_ws.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ws_close(struct ws_conn *c, struct lws *wsi, struct ws_txq *q, int code, const char *reason)
{
	c->close_sent = true;
	ws_txq_clear(q);
	lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
	return -1;
}

int ws_rx_take(struct ws_rx *r, const void *in, size_t len, bool final, size_t max)
{
	char *p;

	if (r->whole)
		r->len = 0;
	r->whole = false;
	if (max && r->len + len > max)
		return -E2BIG;
	if (!(p = realloc(r->p, r->len + len + 1)))
		return -ENOMEM;
	r->p = p;
	memcpy(r->p + r->len, in, len);
	r->len += len;
	r->p[r->len] = '\0';
	r->whole = final;
	return final;
}

void ws_rx_free(struct ws_rx *r)
{
	free(r->p);
	*r = (struct ws_rx){ 0 };
}

bool ws_fault_closes(const struct ws_fault *ft)
{
	return ft->f.kind == FAULT_CLOSE && ft->sent >= (unsigned)ft->f.n;
}

int ws_fault_gate(struct ws_fault *ft, struct lws *wsi, struct ws_txq *q, const char *junk)
{
	if (ft->sent < (unsigned)ft->f.n)
		return 1;
	if (ft->f.kind == FAULT_STALL) {
		ws_txq_clear(q);
		return 0;
	}
	if (ft->f.kind == FAULT_MALFORMED && !ft->junk_sent) {
		ft->junk_sent = true;
		lws_callback_on_writable(wsi);
		return ws_send_text(wsi, junk) ? -1 : 0;
	}
	return 1;
}

int ws_send_queued(struct ws_fault *ft, struct lws *wsi, struct ws_txq *q, const char *junk,
		   int64_t upto)
{
	while (q->head && q->head->due_us <= upto && !lws_partial_buffered(wsi)) {
		int rc;

		if (ft && ws_fault_closes(ft))
			return 1;
		if (ft && (rc = ws_fault_gate(ft, wsi, q, junk)) <= 0)
			return rc;
		if (ws_send(wsi, ws_txq_pop_due(q, upto)))
			return -1;
		if (ft)
			ft->sent++;
	}
	return q->head && q->head->due_us <= upto;
}

json_t *ws_query_json(struct lws *wsi, const char *const *hide)
{
	char name[64], val[512];
	json_t *q = json_array();

	for (int i = 0; q && !ws_query(wsi, i, name, sizeof(name), val, sizeof(val)); i++) {
		const char *const *h = hide;

		while (h && *h && strcmp(*h, name))
			h++;
		if (!h || !*h)
			json_array_append_new(q, json_pack("[s,s]", name, val));
	}
	return q;
}

void ws_rec_open(struct emu_rec *rec, struct lws *wsi, uint64_t conn, const char *const *hide)
{
	char path[256];

	ws_path(wsi, path, sizeof(path));
	emu_rec_add(rec, json_pack("{s:i, s:s, s:s, s:o*}", "conn", (int)conn, "event", "open",
				   "path", path, "query", ws_query_json(wsi, hide)));
}
