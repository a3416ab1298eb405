/*
 * bw_rows.h - the booking-writer's booking INSERT, many rows a statement.
 *
 * A batch of bookings goes to MariaDB in a few multi-row statements (each
 * returning its rows' ids), not one statement per booking: every
 * statement is a round trip that wakes mariadbd and then the writer, and
 * on a busy machine each wake-up waits for a core, so per-row statements
 * capped the writer at one booking per scheduling delay however large the
 * batch was. Statements exist for row counts 1, 2, 4 .. BW_ROWS_MAX,
 * prepared the first time a count is used; a batch is cut into those.
 * INSERT .. RETURNING needs MariaDB 10.5 or later (Debian 12 has 10.11).
 *
 * Owned by the database thread (bw_db.c); closed with the connection.
 */
#ifndef VG_BW_ROWS_H
#define VG_BW_ROWS_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/booking/record.h"

#define BW_ROWS_MAX 128		/* rows of the largest statement: 1,920 parameters */
#define BW_ROWS_SIZES 8		/* 1, 2, 4 .. 128 */

struct bw_rows {
	MYSQL_STMT *st[BW_ROWS_SIZES];	/* [k]: 1 << k rows; NULL until first used */
	MYSQL_BIND *bind;		/* BW_ROWS_MAX * BK_NFIELDS */
	unsigned long *len;
	my_bool *nul;
};

/* One booking: its decoded fields in, its row id out. */
struct bw_row {
	const struct rec_val *vals;
	int64_t id;
};

/* 0, or -ENOMEM. */
int bw_rows_init(struct bw_rows *r);
/* Closes the statements (the connection is going); bw_rows_free also frees. */
void bw_rows_close(struct bw_rows *r);
void bw_rows_free(struct bw_rows *r);

/* Binds one field as MariaDB wants it (shared with bw_db.c's statements). */
void bw_bind_val(MYSQL_BIND *b, const struct rec_val *v, enum rec_ftype t,
		 unsigned long *len, my_bool *is_null);

/*
 * Inserts rows[0..n) (n <= BW_ROWS_MAX) idempotently, in one statement of
 * a prepared size or a few, and sets each row's id (a booking_ref seen
 * before keeps its row and id). 0, or the MariaDB errno with why: its
 * text; with n > 1 an error cannot say which row it was.
 */
unsigned bw_rows_insert(struct bw_rows *r, MYSQL *db, struct bw_row *rows, size_t n,
			char *why, size_t whylen);

#endif
