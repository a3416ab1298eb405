/*
 * bw_rows.c - the booking-writer's booking INSERT, many rows a statement.
 * See bw_rows.h for why.
 *
 * Idempotent as the one-row statement was: a booking_ref already there
 * keeps its row (ON DUPLICATE KEY UPDATE id = id), and RETURNING gives
 * one id per VALUES tuple, in order, new row or old; a ref twice in one
 * statement (a record journaled twice across a writer restart) is one row.
 */
#include "bw_rows.h"

#include <errmsg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_HEAD[] =
	"INSERT INTO ai_agent_bookings (booking_ref, source, call_uuid, created_at, "
	"customer_name, customer_phone, postcode, address, problem_description, trade_type, "
	"callout_fee, did_number, company_name, is_repeat, outcome) VALUES ";
static const char SQL_ROW[] =	/* BK_NFIELDS parameters, in enum booking_field order */
	"(?, ?, ?, FROM_UNIXTIME(? / 1000), ?, ?, ?, ?, ?, ?, COALESCE(?, 49), ?, ?, "
	"COALESCE(?, 0), COALESCE(?, 'booked'))";
static const char SQL_TAIL[] = " ON DUPLICATE KEY UPDATE id = id RETURNING id";

int bw_rows_init(struct bw_rows *r)
{
	size_t n = (size_t)BW_ROWS_MAX * BK_NFIELDS;

	memset(r, 0, sizeof(*r));
	r->bind = calloc(n, sizeof(*r->bind));
	r->len = calloc(n, sizeof(*r->len));
	r->nul = calloc(n, sizeof(*r->nul));
	return r->bind && r->len && r->nul ? 0 : -ENOMEM;
}

void bw_rows_close(struct bw_rows *r)
{
	for (int k = 0; k < BW_ROWS_SIZES; k++) {
		if (r->st[k])
			mysql_stmt_close(r->st[k]);
		r->st[k] = NULL;
	}
}

void bw_rows_free(struct bw_rows *r)
{
	bw_rows_close(r);
	free(r->bind);
	free(r->len);
	free(r->nul);
	memset(r, 0, sizeof(*r));
}

void bw_bind_val(MYSQL_BIND *b, const struct rec_val *v, enum rec_ftype t,
		 unsigned long *len, my_bool *is_null)
{
	memset(b, 0, sizeof(*b));
	*is_null = !v->present;
	b->is_null = is_null;
	if (t == RF_INT || t == RF_BOOL) {
		b->buffer_type = MYSQL_TYPE_LONGLONG;
		b->buffer = (void *)&v->i;
	} else {
		*len = v->len;
		b->buffer_type = MYSQL_TYPE_STRING;
		b->buffer = (void *)v->s;
		b->buffer_length = v->len;
		b->length = len;
	}
}

/*
 * The statement's error, else the connection's: an error packet that
 * arrives among RETURNING's rows (a row refused after others were
 * inserted) is left on the connection, not the statement.
 */
static unsigned stmt_err(MYSQL *db, MYSQL_STMT *st, const char *what, char *why, size_t whylen)
{
	unsigned e = st ? mysql_stmt_errno(st) : 0;
	const char *text = e ? mysql_stmt_error(st) : mysql_error(db);

	if (!e)
		e = mysql_errno(db);
	snprintf(why, whylen, "%serror %u: %s", what, e, text);
	return e ? e : CR_UNKNOWN_ERROR;	/* never 0 for a failure */
}

/* The statement for 1 << k rows, prepared on first use. NULL: *e says why. */
static MYSQL_STMT *stmt_for(struct bw_rows *r, MYSQL *db, int k, unsigned *e, char *why,
			    size_t whylen)
{
	size_t rows = (size_t)1 << k;
	size_t cap = sizeof(SQL_HEAD) + rows * (sizeof(SQL_ROW) + 1) + sizeof(SQL_TAIL);
	char *sql, *p;
	MYSQL_STMT *st;

	if (r->st[k])
		return r->st[k];
	if (!(sql = malloc(cap))) {
		*e = CR_OUT_OF_MEMORY;
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	p = sql + sprintf(sql, "%s", SQL_HEAD);
	for (size_t i = 0; i < rows; i++)
		p += sprintf(p, "%s%s", i ? "," : "", SQL_ROW);
	sprintf(p, "%s", SQL_TAIL);
	st = mysql_stmt_init(db);
	if (st && mysql_stmt_prepare(st, sql, strlen(sql)) == 0) {
		free(sql);
		return r->st[k] = st;
	}
	free(sql);
	*e = stmt_err(db, st, "prepare: ", why, whylen);
	if (st)
		mysql_stmt_close(st);
	return NULL;
}

/* One statement of exactly 1 << k rows. */
static unsigned insert_pow2(struct bw_rows *r, MYSQL *db, int k, struct bw_row *rows,
			    char *why, size_t whylen)
{
	size_t nf, n = (size_t)1 << k, got = 0;
	const struct rec_fdef *f = record_fields(REC_BOOKING, &nf);
	unsigned e = 0;
	MYSQL_STMT *st = stmt_for(r, db, k, &e, why, whylen);
	long long id = 0;
	my_bool id_null = 0;
	MYSQL_BIND out = { .buffer_type = MYSQL_TYPE_LONGLONG, .buffer = &id,
			   .is_null = &id_null };
	int rc;

	if (!st)
		return e;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < BK_NFIELDS; j++) {
			size_t x = i * BK_NFIELDS + j;
			bw_bind_val(&r->bind[x], &rows[i].vals[j], f[j].type, &r->len[x], &r->nul[x]);
		}
	if (mysql_stmt_bind_param(st, r->bind) || mysql_stmt_execute(st))
		return stmt_err(db, st, "", why, whylen);
	if (mysql_stmt_bind_result(st, &out)) {
		e = stmt_err(db, st, "", why, whylen);
	} else {
		while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
			if (got < n)
				rows[got].id = id_null ? 0 : id;
			got++;
		}
		if (rc != MYSQL_NO_DATA)
			e = stmt_err(db, st, "", why, whylen);
	}
	mysql_stmt_free_result(st);	/* what was not read, too */
	if (!e && got != n) {	/* never seen: RETURNING gives one row per tuple */
		snprintf(why, whylen, "INSERT .. RETURNING gave %zu id(s) for %zu row(s)", got, n);
		e = CR_UNKNOWN_ERROR;
	}
	return e;
}

unsigned bw_rows_insert(struct bw_rows *r, MYSQL *db, struct bw_row *rows, size_t n,
			char *why, size_t whylen)
{
	unsigned e = 0;

	for (int k = BW_ROWS_SIZES - 1; k >= 0 && !e; k--)
		for (; n >= ((size_t)1 << k) && !e; n -= (size_t)1 << k, rows += (size_t)1 << k)
			e = insert_pow2(r, db, k, rows, why, whylen);
	return e;
}
