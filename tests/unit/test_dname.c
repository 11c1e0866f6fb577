/* tests/unit/test_dname.c -- zone/dname: text to wire and back, comparisons. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zone/dname.h"
#include "tests/unit/tap.h"

/*
 * The rule of dname.h written the obvious way, as the model the one-pass
 * dname_from_text is checked against: drop one trailing dot, split at dots,
 * every label 1..63 bytes, lower-cased, the whole name at most 255 bytes in
 * wire form.
 */
static size_t model(const char *text, uint8_t *out)
{
	size_t len = strlen(text), o = 0, start = 0;

	if (len == 0 || strcmp(text, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	if (text[len - 1] == '.')
		len--;
	for (;;) {
		const char *dot = memchr(text + start, '.', len - start);
		size_t end = dot ? (size_t)(dot - text) : len, ll = end - start;
		if (ll == 0 || ll > 63 || o + 1 + ll + 1 > DNAME_MAXLEN)
			return 0;
		out[o++] = (uint8_t)ll;
		for (size_t i = start; i < end; i++) {
			char c = text[i];
			out[o++] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		if (!dot)
			break;
		start = end + 1;
	}
	out[o++] = 0;
	return o;
}

static int same(const char *text)
{
	uint8_t a[DNAME_MAXLEN + 8], b[DNAME_MAXLEN + 8];

	memset(a, 0xee, sizeof(a));
	size_t la = dname_from_text(text, a), lb = model(text, b);
	/* Nothing past the wire length it reports, and never past 255. */
	for (size_t i = la ? la : DNAME_MAXLEN; i < sizeof(a); i++)
		if (a[i] != 0xee)
			return 0;
	return la == lb && (la == 0 || memcmp(a, b, la) == 0);
}

static void test_from_text(void)
{
	uint8_t w[DNAME_MAXLEN];
	char buf[DNAME_TEXT_MAX];

	is_int((int)dname_from_text("", w), 1, "\"\" is the root");
	ok(w[0] == 0, "root: one zero byte");
	is_int((int)dname_from_text(".", w), 1, "\".\" is the root");
	is_int((int)dname_from_text("a", w), 3, "one label");
	ok(memcmp(w, "\1a\0", 3) == 0, "one label: wire");
	is_int((int)dname_from_text("Nginx.Marathon.MESOS.", w), 22, "trailing dot, mixed case");
	ok(memcmp(w, "\5nginx\10marathon\5mesos\0", 22) == 0, "lower-cased wire");
	is_str(dname_to_text(w, buf, sizeof(buf)), "nginx.marathon.mesos.", "and back to text");
	is_int((int)dname_from_text("a..b", w), 0, "empty label inside");
	is_int((int)dname_from_text(".a", w), 0, "empty first label");
	is_int((int)dname_from_text("a..", w), 0, "two trailing dots");
	is_int((int)dname_from_text("..", w), 0, "\"..\"");

	char l63[64], l64[65];
	memset(l63, 'x', 63);
	l63[63] = 0;
	memset(l64, 'x', 64);
	l64[64] = 0;
	is_int((int)dname_from_text(l63, w), 65, "a 63-byte label");
	is_int((int)dname_from_text(l64, w), 0, "a 64-byte label");

	/* 255 in wire form is the most: 3 labels of 63 and one of 61 make
	 * 64 * 3 + 62 + 1 = 255; one more byte is too many. */
	char name[400];
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", l63, l63, l63, l63);
	is_int((int)dname_from_text(name, w), 255, "255 bytes: the longest name");
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s.", l63, l63, l63, l63);
	is_int((int)dname_from_text(name, w), 255, "255 bytes with a trailing dot");
	snprintf(name, sizeof(name), "%s.%s.%s.%.62s", l63, l63, l63, l63);
	is_int((int)dname_from_text(name, w), 0, "256 bytes: too long");
	snprintf(name, sizeof(name), "%s.%s.%s.%s.%s", l63, l63, l63, l63, l63);
	ok(same(name), "far too long: refused without writing past 255 bytes");
}

/* Random texts of dots, letters (both cases) and other bytes, some near the
 * length limits, each converted by both (the conversion works 8 bytes at a
 * time: lengths around multiples of 8 matter). */
static void test_random(void)
{
	/* Around the edges of A-Z ('@', '[', '`', '{'), and bytes with the
	 * top bit set whose low 7 bits are letters: they stay as they are. */
	static const char alpha[] = "aZ.-_09.x.Q\\ .@[`{\xc1\xda" "Az";
	unsigned bad = 0, valid = 0, n = 200000;
	char t[400];

	srand(7);
	for (unsigned i = 0; i < n; i++) {
		size_t len = (size_t)rand() % (i % 10 == 0 ? 300 : 24);
		for (size_t k = 0; k < len; k++) {
			/* Long runs without dots now and then, for labels over 63. */
			int r = rand();
			t[k] = (i % 7 == 0 && r % 50) ? 'y' : alpha[r % (int)(sizeof(alpha) - 1)];
		}
		t[len] = 0;
		uint8_t w[DNAME_MAXLEN];
		valid += dname_from_text(t, w) != 0;
		if (!same(t) && bad++ < 3)
			printf("# differs from the model: \"%s\"\n", t);
	}
	ok(bad == 0 && valid > n / 10 && valid < n - n / 10,
	   "%u random texts (%u valid names) convert as the model does", n, valid);
}

int main(void)
{
	test_from_text();
	test_random();
	return done_testing();
}
