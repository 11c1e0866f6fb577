/* lib/jsontree.c -- a jansson tree from one yajl pass, big arrays streamed. */
#include "lib/jsontree.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "lib/err.h"
#include "lib/utf8.h"

/*
 * jansson parses a whole document into a tree, and has no streaming
 * interface; yajl streams but builds nothing.  The operator API's events are
 * handled as jansson trees (lib/statemodel.c), most of them a few hundred
 * bytes, but the first is the whole cluster.  So yajl reads, and this builds
 * the tree from its events, except that an element of an array named in the
 * streams goes to the caller as soon as it is complete and is then freed.
 */

/* An open container. */
struct frame {
	json_t *v;		/* the object or array being filled */
	const char *key;	/* its key in the parent object (the parent's key
				   copy, alive until it is attached), NULL in an array */
	size_t keylen;
	char *pending;		/* an object's key read, its value not yet */
	size_t pendlen;
	int tag;		/* a streamed array: its tag (0: kept in the tree) */
};

struct jt {
	struct frame stack[JSONTREE_MAX_DEPTH];
	int depth;
	json_t *root;
	const struct jsontree_stream *streams;
	size_t nstreams;
	jsontree_cb cb;
	void *ctx;
	int rc;			/* why a callback stopped the parse (0: yajl's error) */
	int toodeep;
	int nul;		/* a string or key held a NUL (jansson refuses those) */
	int range;		/* a number beyond a double (jansson refuses those too) */
};

/* The streamed array's tag for an array opened now under key, or 0. */
static int stream_tag(const struct jt *t, const char *key, size_t keylen)
{
	for (size_t s = 0; key && s < t->nstreams; s++) {
		const struct jsontree_stream *st = &t->streams[s];
		size_t n = st->nkeys;
		/* stack[0] is the root object; stack[i] sits under keys[i - 1]. */
		if (n == 0 || (size_t)t->depth != n ||
		    strlen(st->keys[n - 1]) != keylen || memcmp(st->keys[n - 1], key, keylen) != 0)
			continue;
		size_t i = 1;
		for (; i < n; i++) {
			const struct frame *f = &t->stack[i];
			if (!f->key || strlen(st->keys[i - 1]) != f->keylen ||
			    memcmp(st->keys[i - 1], f->key, f->keylen) != 0)
				break;
		}
		if (i == n && json_is_object(t->stack[0].v))
			return st->tag;
	}
	return 0;
}

/* Put a finished value where it belongs; takes the reference.  0 stops the parse. */
static int attach(struct jt *t, json_t *v)
{
	if (!v) {
		t->rc = MDNS_ENOMEM;
		return 0;
	}
	if (t->depth == 0) {
		t->root = v;
		return 1;
	}
	struct frame *f = &t->stack[t->depth - 1];
	int ok;
	if (json_is_object(f->v)) {
		ok = json_object_setn_new_nocheck(f->v, f->pending ? f->pending : "", f->pendlen, v) == 0;
		free(f->pending);
		f->pending = NULL;
	} else if (f->tag) {
		int rc = t->cb(t->ctx, f->tag, v);
		json_decref(v);
		if (rc) {
			t->rc = rc;
			return 0;
		}
		return 1;
	} else {
		ok = json_array_append_new(f->v, v) == 0;
	}
	if (!ok)
		t->rc = MDNS_ENOMEM;
	return ok;
}

static int open_container(struct jt *t, json_t *v)
{
	if (!v) {
		t->rc = MDNS_ENOMEM;
		return 0;
	}
	if (t->depth == JSONTREE_MAX_DEPTH) {
		json_decref(v);
		t->toodeep = 1;
		return 0;
	}
	struct frame *f = &t->stack[t->depth];
	memset(f, 0, sizeof(*f));
	f->v = v;
	if (t->depth > 0 && json_is_object(t->stack[t->depth - 1].v)) {
		f->key = t->stack[t->depth - 1].pending;
		f->keylen = t->stack[t->depth - 1].pendlen;
	}
	if (json_is_array(v))
		f->tag = stream_tag(t, f->key, f->keylen);
	t->depth++;
	return 1;
}

static int close_container(void *arg)
{
	struct jt *t = arg;
	json_t *v = t->stack[--t->depth].v;

	free(t->stack[t->depth].pending);
	return attach(t, v);
}

static int cb_null(void *arg)
{
	return attach(arg, json_null());
}

static int cb_boolean(void *arg, int b)
{
	return attach(arg, json_boolean(b));
}

static int cb_number(void *arg, const char *s, size_t len)
{
	struct jt *t = arg;
	char buf[64], *text = len < sizeof(buf) ? buf : malloc(len + 1), *end;
	json_t *v;

	if (!text)
		return attach(t, NULL);
	memcpy(text, s, len);
	text[len] = '\0';
	errno = 0;
	json_int_t n = strtoll(text, &end, 10);
	if (errno == 0 && *end == '\0') {
		v = json_integer(n);
	} else {
		/* A real, or an integer too big for json_int_t (a real here;
		 * jansson refuses it), or a real beyond a double (refused). */
		double d = strtod(text, NULL);
		t->range = !isfinite(d);
		v = t->range ? NULL : json_real(d);
	}
	if (text != buf)
		free(text);
	return t->range ? 0 : attach(t, v);
}

static int cb_string(void *arg, const unsigned char *s, size_t len)
{
	struct jt *t = arg;

	if (memchr(s, 0, len)) {
		t->nul = 1;
		return 0;
	}
	if (utf8_valid((const char *)s, len))
		return attach(t, json_stringn_nocheck((const char *)s, len));
	/* yajl does not check strings (see jsontree_parse): repair them. */
	char *fix = malloc(UTF8_REPAIR_MAX(len) + 1);
	if (!fix) {
		t->rc = MDNS_ENOMEM;
		return 0;
	}
	int r = attach(t, json_stringn_nocheck(fix, utf8_repair((const char *)s, len, fix)));
	free(fix);
	return r;
}

static int cb_start_map(void *arg)
{
	return open_container(arg, json_object());
}

static int cb_map_key(void *arg, const unsigned char *key, size_t len)
{
	struct jt *t = arg;
	struct frame *f = &t->stack[t->depth - 1];

	if (memchr(key, 0, len)) {
		t->nul = 1;
		return 0;
	}
	free(f->pending);
	int valid = utf8_valid((const char *)key, len);
	f->pending = malloc(valid ? len + 1 : UTF8_REPAIR_MAX(len) + 1);
	if (!f->pending) {
		t->rc = MDNS_ENOMEM;
		return 0;
	}
	if (valid)
		memcpy(f->pending, key, len);
	else
		len = utf8_repair((const char *)key, len, f->pending);
	f->pending[len] = '\0';
	f->pendlen = len;
	return 1;
}

static int cb_start_array(void *arg)
{
	return open_container(arg, json_array());
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_boolean,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = close_container,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = close_container,
};

void jsontree_where(const char *text, size_t n, size_t *line, size_t *col)
{
	const char *p = text, *end = text + n, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		(*line)++;
		*col = 1;
		p = nl + 1;
	}
	*col += (size_t)(end - p);
}

void jsontree_yajl_message(yajl_handle h, const char *text, size_t len, char *out, size_t outlen)
{
	unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)text, len);
	size_t i;

	snprintf(out, outlen, "%s", msg ? (const char *)msg : "parse error");
	for (i = 0; out[i]; i++)	/* yajl's message ends in a newline: one line */
		if (out[i] == '\n')
			out[i] = ' ';
	while (i > 0 && out[i - 1] == ' ')
		out[--i] = '\0';
	if (msg)
		yajl_free_error(h, msg);
}

/* "line L column C: yajl's message" for a parse error; at_end: found by
 * yajl_complete_parse (the text ended too soon). */
static void parse_error(yajl_handle h, const char *text, size_t len, int at_end, const char *what,
			char *err, size_t errlen)
{
	size_t off = at_end ? len : yajl_get_bytes_consumed(h), line = 1, col = 1;
	char one[160];

	jsontree_where(text, off < len ? off : len, &line, &col);
	jsontree_yajl_message(h, text, len, one, sizeof(one));
	mdns_set_err(err, errlen, "%s is not valid JSON: line %zu column %zu: %s", what, line, col, one);
}

int jsontree_parse(const char *text, size_t len, const struct jsontree_stream *streams,
		   size_t nstreams, jsontree_cb cb, void *ctx, json_t **root, const char *what,
		   char *err, size_t errlen)
{
	struct jt *t = calloc(1, sizeof(*t));
	yajl_handle h = NULL;
	int rc = 0;

	*root = NULL;
	if (!t || !(h = yajl_alloc(&callbacks, NULL, t))) {
		free(t);
		mdns_set_err(err, errlen, "out of memory parsing %s", what);
		return MDNS_ENOMEM;
	}
	/* A byte that is not UTF-8 in one string must not refuse a whole
	 * snapshot: strings are repaired instead (lib/utf8.h). */
	yajl_config(h, yajl_dont_validate_strings, 1);
	t->streams = streams;
	t->nstreams = nstreams;
	t->cb = cb;
	t->ctx = ctx;
	yajl_status ys = yajl_parse(h, (const unsigned char *)text, len);
	int at_end = ys == yajl_status_ok;
	if (at_end)
		ys = yajl_complete_parse(h);
	if (ys != yajl_status_ok || !t->root) {
		if (t->rc == MDNS_ENOMEM) {
			rc = MDNS_ENOMEM;
			mdns_set_err(err, errlen, "out of memory parsing %s", what);
		} else if (t->rc) {
			rc = t->rc;	/* the callback's, with its message */
		} else if (t->nul) {
			rc = MDNS_EPARSE;
			mdns_set_err(err, errlen, "%s is not valid JSON: a string holds a NUL character",
				     what);
		} else if (t->range) {
			rc = MDNS_EPARSE;
			mdns_set_err(err, errlen, "%s is not valid JSON: a number out of range", what);
		} else if (t->toodeep) {
			rc = MDNS_EPARSE;
			mdns_set_err(err, errlen, "%s is nested more than %d levels deep", what,
				     JSONTREE_MAX_DEPTH);
		} else {
			rc = MDNS_EPARSE;
			if (ys == yajl_status_ok)	/* nothing but white space */
				mdns_set_err(err, errlen, "%s is not valid JSON: empty", what);
			else
				parse_error(h, text, len, at_end, what, err, errlen);
		}
		/* Containers an error left open. */
		while (t->depth > 0) {
			t->depth--;
			free(t->stack[t->depth].pending);
			json_decref(t->stack[t->depth].v);
		}
		json_decref(t->root);
	} else {
		*root = t->root;
	}
	yajl_free(h);
	free(t);
	return rc;
}
