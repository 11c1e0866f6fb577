/* lib/jsontree.h -- a jansson tree from one yajl pass, big arrays streamed. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <yajl/yajl_parse.h>

/*
 * An array, by the keys that lead to it from the root object (every level an
 * object), whose elements go to the callback one at a time instead of into
 * the tree: the array stays empty in the tree, and no more than one element
 * is ever held.  A SUBSCRIBED event's tasks are most of its 200 MB at
 * 100,000 tasks; a whole jansson tree of it took 2.3 GB and ~12 CPU-s.
 */
struct jsontree_stream {
	const char *const *keys;
	size_t nkeys;
	int tag;			/* handed to the callback */
};

/* Called with each element of a streamed array, in document order; the
 * element is borrowed (freed after the call).  Returns 0, or an error code
 * that ends the parse with it. */
typedef int (*jsontree_cb)(void *ctx, int tag, json_t *elem);

/*
 * Parse len bytes of JSON into *root (the caller json_decref()s it), handing
 * the elements of the nstreams arrays in streams to cb.  The same values as
 * jansson's json_loadb (integers that fit a json_int_t stay integers, other
 * numbers are reals; for a key given twice the last wins), and no more than
 * JSONTREE_MAX_DEPTH levels.  Returns 0; MDNS_EPARSE with what and where in
 * err (what: how to call the text in the message); MDNS_ENOMEM; or the
 * callback's code (err as it left it).  On an error *root is NULL and the
 * elements streamed so far have been handed over.
 */
#define JSONTREE_MAX_DEPTH 512
int jsontree_parse(const char *text, size_t len, const struct jsontree_stream *streams,
		   size_t nstreams, jsontree_cb cb, void *ctx, json_t **root, const char *what,
		   char *err, size_t errlen);

/* For yajl's errors, here and in lib/statesax.c: advance *line and *col
 * (1-based) over n bytes of text; and yajl's message for the error h stopped
 * at in text (len bytes), on one line, into out. */
void jsontree_where(const char *text, size_t n, size_t *line, size_t *col);
void jsontree_yajl_message(yajl_handle h, const char *text, size_t len, char *out, size_t outlen);
