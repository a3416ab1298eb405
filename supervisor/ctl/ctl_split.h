/*
 * ctl_split.h - a migration file's text, split into statements, as
 * vagentctl db migrate sends them (one mysql_real_query each, so that an
 * error names its line).
 *
 * Owns: where MariaDB's client would end a statement: at ';' outside
 * quotes ('', "" with backslash escapes, `` without) and comments (-- with
 * a blank after it, #, and slash-star comments, of which the executable
 * ones, slash-star-bang and slash-star-M-bang, are SQL). No DELIMITER.
 * Pure: no I/O, never reads outside [s, s + len), needs no terminator.
 */
#ifndef VG_CTL_SPLIT_H
#define VG_CTL_SPLIT_H

#include <stddef.h>

struct splitter {
	char *s;		/* the text; not modified */
	size_t len, pos;	/* pos: where the next statement is looked for (0) */
	unsigned int line;	/* pos's line (start at 1) */
};

/*
 * The next statement of sp: [*b, *e) from its first character that is not
 * blank or comment to before its ';' (or the end of the text), starting on
 * line *bline. Returns 1, 0 at the end, -EBADMSG for a quote or comment
 * that is never closed (*bline: where it opened).
 */
int split_next(struct splitter *sp, size_t *b, size_t *e, unsigned int *bline);

#endif
