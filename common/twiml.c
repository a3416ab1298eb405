/*
 * twiml.c - the TwiML documents vagent hands to Twilio (see twiml.h).
 *
 * Written by hand into a buffer rather than through an XML library: the
 * documents are four elements deep and fixed in shape, and every value
 * passes through twiml_escape().
 */
#include "twiml.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

int twiml_escape(struct buf *b, const char *s)
{
	int rc = 0;

	for (; s && *s && rc == 0; s++) {
		switch (*s) {
		case '&': rc = buf_append_str(b, "&amp;"); break;
		case '<': rc = buf_append_str(b, "&lt;"); break;
		case '>': rc = buf_append_str(b, "&gt;"); break;
		case '"': rc = buf_append_str(b, "&quot;"); break;
		case '\'': rc = buf_append_str(b, "&apos;"); break;
		default:
			/* XML 1.0 has no place for other control characters */
			rc = buf_append_byte(b, (unsigned char)*s < 0x20 && *s != '\t' &&
						*s != '\n' && *s != '\r' ? ' ' : (uint8_t)*s);
		}
	}
	return rc;
}

int twiml_wss_base(const char *public_url, char *out, size_t len)
{
	size_t n;

	if (!public_url || strncmp(public_url, "https://", 8) || !public_url[8])
		return -EINVAL;
	n = strlen(public_url);
	while (n > 8 && public_url[n - 1] == '/')
		n--;
	if (snprintf(out, len, "wss://%.*s", (int)(n - 8), public_url + 8) >= (int)len)
		return -EINVAL;
	return 0;
}

/* ' name="value"' when value is set. */
static int attr(struct buf *b, const char *name, const char *value)
{
	int rc;

	if (!value || !*value)
		return 0;
	if ((rc = buf_printf(b, " %s=\"", name)) == 0 && (rc = twiml_escape(b, value)) == 0)
		rc = buf_append_str(b, "\"");
	return rc;
}

static int params(struct buf *b, const struct twiml_connect *t)
{
	int rc = 0;

	for (size_t i = 0; i < t->n && rc == 0; i++) {
		if ((rc = buf_append_str(b, "<Parameter")) == 0 &&
		    (rc = attr(b, "name", t->names[i])) == 0 &&
		    (rc = buf_append_str(b, " value=\"")) == 0 &&
		    (rc = twiml_escape(b, t->values[i])) == 0)
			rc = buf_append_str(b, "\"/>");
	}
	return rc;
}

int twiml_connect(struct buf *b, const struct twiml_connect *t)
{
	char base[300], url[320];
	const char *el = t->relay ? "ConversationRelay" : "Stream";
	int rc;

	if (twiml_wss_base(t->public_url, base, sizeof(base)) < 0)
		return -EINVAL;
	snprintf(url, sizeof(url), "%s%s", base, t->relay ? "/twilio/relay" : "/twilio");
	if ((rc = buf_append_str(b, XML_HEAD "<Response><Connect")) < 0 ||
	    (rc = attr(b, "action", t->action)) < 0 ||
	    (rc = buf_printf(b, "><%s", el)) < 0 || (rc = attr(b, "url", url)) < 0)
		return rc;
	if (t->relay &&
	    ((rc = attr(b, "welcomeGreeting", t->greeting)) < 0 ||
	     (rc = attr(b, "language", t->language)) < 0 ||
	     (rc = attr(b, "ttsProvider", t->tts_provider)) < 0 ||
	     (rc = attr(b, "voice", t->voice)) < 0 ||
	     (rc = attr(b, "transcriptionProvider", t->transcription_provider)) < 0 ||
	     (rc = buf_append_str(b, " interruptible=\"any\" dtmfDetection=\"true\"")) < 0))
		return rc;
	if ((rc = buf_append_str(b, ">")) < 0 || (rc = params(b, t)) < 0)
		return rc;
	return buf_printf(b, "</%s></Connect></Response>", el);
}

int twiml_say_hangup(struct buf *b, const char *text)
{
	int rc;

	if ((rc = buf_append_str(b, XML_HEAD "<Response><Say>")) == 0 &&
	    (rc = twiml_escape(b, text)) == 0)
		rc = buf_append_str(b, "</Say><Hangup/></Response>");
	return rc;
}

int twiml_dial(struct buf *b, const char *say, const char *number)
{
	int rc = buf_append_str(b, XML_HEAD "<Response>");

	if (rc == 0 && say && *say && (rc = buf_append_str(b, "<Say>")) == 0 &&
	    (rc = twiml_escape(b, say)) == 0)
		rc = buf_append_str(b, "</Say>");
	if (rc == 0 && (rc = buf_append_str(b, "<Dial>")) == 0 && (rc = twiml_escape(b, number)) == 0)
		rc = buf_append_str(b, "</Dial></Response>");
	return rc;
}

int twiml_hangup(struct buf *b)
{
	return buf_append_str(b, XML_HEAD "<Response><Hangup/></Response>");
}

int twiml_play(struct buf *b, const char *url)
{
	int rc;

	if ((rc = buf_append_str(b, XML_HEAD "<Response><Play>")) == 0 &&
	    (rc = twiml_escape(b, url)) == 0)
		rc = buf_append_str(b, "</Play></Response>");
	return rc;
}
