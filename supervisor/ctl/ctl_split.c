/*
 * ctl_split.c - splitting a migration into statements. See ctl_split.h.
 */
#include "ctl_split.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>

int split_next(struct splitter *sp, size_t *b, size_t *e, unsigned int *bline)
{
	const char *s = sp->s;
	bool content = false;

	while (sp->pos < sp->len) {
		char ch = s[sp->pos];
		char nx = sp->pos + 1 < sp->len ? s[sp->pos + 1] : '\0';

		if (ch == '\n') {
			sp->line++;
			sp->pos++;
			continue;
		}
		if (isspace((unsigned char)ch)) {
			sp->pos++;
			continue;
		}
		/* -- needs a blank after it (MariaDB's rule); # always starts one. */
		if (ch == '#' || (ch == '-' && nx == '-' &&
				  (sp->pos + 2 >= sp->len || isspace((unsigned char)s[sp->pos + 2])))) {
			while (sp->pos < sp->len && s[sp->pos] != '\n')
				sp->pos++;
			continue;
		}
		if (ch == '/' && nx == '*') {
			unsigned int at = sp->line;
			/*
			 * An executable comment, slash-star-bang or MariaDB's
			 * slash-star-M-bang, is SQL to the server; any other, even
			 * one that begins with an M, is a comment.
			 */
			size_t at_x = sp->pos + 2;
			bool exec = (at_x < sp->len && s[at_x] == '!') ||
				    (at_x + 1 < sp->len && s[at_x] == 'M' && s[at_x + 1] == '!');
			if (exec && !content) {
				content = true;
				*b = sp->pos;
				*bline = sp->line;
			}
			sp->pos += 2;
			while (sp->pos + 1 < sp->len && !(s[sp->pos] == '*' && s[sp->pos + 1] == '/'))
				if (s[sp->pos++] == '\n')
					sp->line++;
			if (sp->pos + 1 >= sp->len) {
				*bline = at;
				return -EBADMSG;
			}
			sp->pos += 2;
			continue;
		}
		if (ch == ';') {
			sp->pos++;
			if (!content)		/* an empty statement: ";;" */
				continue;
			*e = sp->pos - 1;
			return 1;
		}
		if (!content) {
			content = true;
			*b = sp->pos;
			*bline = sp->line;
		}
		if (ch == '\'' || ch == '"' || ch == '`') {
			unsigned int at = sp->line;
			sp->pos++;
			while (sp->pos < sp->len && s[sp->pos] != ch) {
				if (s[sp->pos] == '\n')
					sp->line++;
				/* Backslash escapes in strings, not in `identifiers`. */
				if (s[sp->pos] == '\\' && ch != '`' && sp->pos + 1 < sp->len &&
				    s[++sp->pos] == '\n')
					sp->line++;
				sp->pos++;
			}
			if (sp->pos >= sp->len) {
				*bline = at;
				return -EBADMSG;
			}
			/* A doubled quote closes and reopens: the same string. */
			sp->pos++;
			continue;
		}
		sp->pos++;
	}
	if (content) {
		*e = sp->len;
		return 1;
	}
	return 0;
}
