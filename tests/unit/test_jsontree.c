/* tests/unit/test_jsontree.c -- lib/jsontree: jansson's tree from yajl, chosen arrays streamed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/jsontree.h"
#include "tap.h"

struct seen {
	int n, tags[16];
	char text[16][64];
	int fail_at;		/* 1-based element to refuse (0: none) */
};

static int collect(void *ctx, int tag, json_t *v)
{
	struct seen *s = ctx;
	char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s->n < 16) {
		s->tags[s->n] = tag;
		snprintf(s->text[s->n], sizeof(s->text[0]), "%s", d ? d : "?");
	}
	free(d);
	return ++s->n == s->fail_at ? MDNS_EEXIST : 0;
}

static json_t *parse(const char *text, const struct jsontree_stream *st, size_t n, struct seen *s,
		     int *rc, char *err, size_t errlen)
{
	json_t *root;

	*rc = jsontree_parse(text, strlen(text), st, n, collect, s, &root, "doc", err, errlen);
	return root;
}

/* Without streams: the tree json_loadb builds, value for value. */
static void test_same_as_jansson(void)
{
	static const char *const docs[] = {
		"{\"a\":[1,-2,3.5,1e3,-0.25E-2,true,false,null,\"x\"],\"b\":{\"c\":{}},\"d\":[]}",
		"{\"k\":1,\"k\":2}",					/* the last wins */
		"{\"s\":\"caf\\u00e9 \\\"q\\\" \\n \\/ \\ud83d\\ude00 \xc3\xa9\"}",
		"{\"big\":9223372036854775807,\"neg\":-9223372036854775808}",
		"[[[[[]]]],{\"\":\"empty key\"}]",
		"  {\"ws\" : [ 1 , 2 ] }  \n",
	};
	char err[200];
	int rc;

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_error_t je;
		json_t *want = json_loads(docs[i], 0, &je);
		json_t *got = parse(docs[i], NULL, 0, NULL, &rc, err, sizeof(err));
		ok(rc == 0 && want && got && json_equal(got, want), "doc %zu: the same tree as json_loads",
		   i);
		json_decref(want);
		json_decref(got);
	}
	/* An integer beyond json_int_t: jansson refuses it, here it is a real. */
	json_t *got = parse("{\"n\":123456789012345678901234567890}", NULL, 0, NULL, &rc, err,
			    sizeof(err));
	ok(rc == 0 && json_is_real(json_object_get(got, "n")), "an integer too big becomes a real");
	json_decref(got);
}

static const char *const p_tasks[] = { "s", "g", "tasks" };
static const char *const p_agents[] = { "s", "agents" };
static const struct jsontree_stream streams[] = {
	{ p_tasks, 3, 7 },
	{ p_agents, 2, 9 },
};

static void test_streams(void)
{
	struct seen s = { 0 };
	char err[200];
	int rc;
	json_t *root = parse("{\"type\":\"X\",\"s\":{\"agents\":[{\"id\":1},\"two\"],"
			     "\"g\":{\"tasks\":[{\"t\":[1,{\"u\":2}]},3],\"other\":[4]},"
			     "\"x\":{\"tasks\":[5]}},\"tasks\":[6],\"l\":[{\"s\":{\"agents\":[7]}}]}",
			     streams, 2, &s, &rc, err, sizeof(err));

	is_int(rc, 0, "a document with two streamed arrays parses");
	is_int(s.n, 4, "... four elements handed over");
	ok(s.tags[0] == 9 && strcmp(s.text[0], "{\"id\":1}") == 0 &&
	   s.tags[1] == 9 && strcmp(s.text[1], "\"two\"") == 0, "... the agents first, tag 9: %s %s",
	   s.text[0], s.text[1]);
	ok(s.tags[2] == 7 && strcmp(s.text[2], "{\"t\":[1,{\"u\":2}]}") == 0 &&
	   s.tags[3] == 7 && strcmp(s.text[3], "3") == 0, "... then the tasks, whole, tag 7: %s %s",
	   s.text[2], s.text[3]);
	char *d = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	is_str(d, "{\"l\":[{\"s\":{\"agents\":[7]}}],\"s\":{\"agents\":[],\"g\":{\"other\":[4],"
	       "\"tasks\":[]},\"x\":{\"tasks\":[5]}},\"tasks\":[6],\"type\":\"X\"}",
	       "... streamed arrays are empty in the tree; the same keys elsewhere are kept");
	free(d);
	json_decref(root);

	/* A root that is an array: no path applies. */
	memset(&s, 0, sizeof(s));
	root = parse("[{\"s\":{\"agents\":[1]}}]", streams, 2, &s, &rc, err, sizeof(err));
	ok(rc == 0 && s.n == 0 && json_array_size(json_object_get(json_object_get(
		json_array_get(root, 0), "s"), "agents")) == 1, "under a root array nothing streams");
	json_decref(root);

	/* The callback's error ends the parse with its code; nothing leaks (ASan). */
	memset(&s, 0, sizeof(s));
	s.fail_at = 2;
	root = parse("{\"s\":{\"agents\":[1,2,3],\"more\":[1]}}", streams, 2, &s, &rc, err,
		     sizeof(err));
	ok(rc == MDNS_EEXIST && !root && s.n == 2, "a callback's error stops the parse with its code");
}

static void test_errors(void)
{
	char err[200], deep[1200];
	int rc;
	json_t *root;

	root = parse("{\"a\":\n [1,}", NULL, 0, NULL, &rc, err, sizeof(err));
	ok(rc == MDNS_EPARSE && !root && strstr(err, "doc is not valid JSON: line 2") != NULL,
	   "invalid JSON: EPARSE with the line: %s", err);
	root = parse("{\"a\":[1", NULL, 0, NULL, &rc, err, sizeof(err));
	ok(rc == MDNS_EPARSE && !root && strstr(err, "column 8") != NULL,
	   "a text that ends too soon: the position is its end: %s", err);
	root = parse("{\"r\":1e999}", NULL, 0, NULL, &rc, err, sizeof(err));
	ok(rc == MDNS_EPARSE && !root && strstr(err, "out of range") != NULL,
	   "a real beyond a double is refused, as by jansson: %s", err);
	root = parse("   ", NULL, 0, NULL, &rc, err, sizeof(err));
	ok(rc == MDNS_EPARSE && !root, "white space alone: %s", err);
	root = parse("{\"a\":\"x\\u0000y\"}", NULL, 0, NULL, &rc, err, sizeof(err));
	ok(rc == MDNS_EPARSE && strstr(err, "NUL") != NULL, "a NUL in a string is refused: %s", err);
	root = parse("{\"a\\u0000\":1}", NULL, 0, NULL, &rc, err, sizeof(err));
	ok(rc == MDNS_EPARSE && strstr(err, "NUL") != NULL, "... and in a key: %s", err);
	root = parse("{\"a\":\"Ren\xe9\",\"k\xff\":[\"\xc3\xa9\"]}", NULL, 0, NULL, &rc, err,
		     sizeof(err));
	ok(rc == 0 && root, "strings that are not UTF-8 do not refuse the text: %s", err);
	is_str(json_string_value(json_object_get(root, "a")), "Ren\xef\xbf\xbd",
	       "... a byte that is not UTF-8 reads as U+FFFD");
	is_str(json_string_value(json_array_get(json_object_get(root, "k\xef\xbf\xbd"), 0)),
	       "\xc3\xa9", "... in a key too; valid UTF-8 is kept as it is");
	json_decref(root);
	memset(deep, '[', 600);
	memset(deep + 600, ']', 600);
	deep[1199] = '\0';
	deep[1198] = ']';
	root = parse(deep, NULL, 0, NULL, &rc, err, sizeof(err));
	ok(rc == MDNS_EPARSE && strstr(err, "nested") != NULL, "600 levels are refused: %s", err);
	memset(deep, '[', 512);
	memset(deep + 512, ']', 512);
	deep[1024] = '\0';
	root = parse(deep, NULL, 0, NULL, &rc, err, sizeof(err));
	ok(rc == 0 && root, "512 levels are not");
	json_decref(root);
}

int main(void)
{
	test_same_as_jansson();
	test_streams();
	test_errors();
	return done_testing();
}
