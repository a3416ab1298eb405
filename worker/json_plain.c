/*
 * json_plain.c - a provider's JSON read in place. See json_plain.h.
 */
#include "json_plain.h"

#include <string.h>

#define DIGITS_MAX 15		/* jansson reads these exactly, as integer or double */

void jp_init(struct jp *s, const char *data, size_t len)
{
	s->p = data;
	s->end = data + len;
}

static void skip_space(struct jp *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

bool jp_eat(struct jp *s, char c)
{
	skip_space(s);
	if (s->p == s->end || *s->p != c)
		return false;
	s->p++;
	return true;
}

bool jp_string(struct jp *s, struct jp_str *out)
{
	const char *at = s->p, *q;

	if (!jp_eat(s, '"'))
		return false;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e || *q == '\\')
			break;
	if (q == s->end || *q != '"') {
		s->p = at;	/* not plain: the scanner stays before it */
		return false;
	}
	*out = (struct jp_str){ s->p, (size_t)(q - s->p) };
	s->p = q + 1;
	return true;
}

/* 1 to DIGITS_MAX digits at s->p, taken; 0 if not. */
static size_t digits(struct jp *s)
{
	size_t n = 0;

	while (s->p + n < s->end && s->p[n] >= '0' && s->p[n] <= '9' && n <= DIGITS_MAX)
		n++;
	if (n > DIGITS_MAX)
		return 0;
	s->p += n;
	return n;
}

static bool word(struct jp *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n))
		return false;
	s->p += n;
	return true;
}

bool jp_scalar(struct jp *s)
{
	const char *start;

	skip_space(s);
	if (word(s, "true") || word(s, "false") || word(s, "null"))
		return true;
	if (s->p < s->end && *s->p == '-')
		s->p++;
	start = s->p;
	if (!digits(s) || (*start == '0' && s->p - start > 1))
		return false;		/* none, or a leading zero */
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!digits(s))
			return false;
	}
	return s->p == s->end || (*s->p != 'e' && *s->p != 'E');
}

bool jp_done(struct jp *s)
{
	skip_space(s);
	return s->p == s->end;
}

bool jp_is(struct jp_str v, const char *lit)
{
	return v.p && v.n == strlen(lit) && !memcmp(v.p, lit, v.n);
}
