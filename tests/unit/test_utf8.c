/* tests/unit/test_utf8.c -- lib/utf8: well-formed UTF-8, and repairing what is not. */
#include <string.h>

#include "lib/utf8.h"
#include "tests/unit/tap.h"

static const char *repaired(const char *s, size_t n)
{
	static char out[256];
	size_t k = utf8_repair(s, n, out);
	out[k] = 0;
	return out;
}

int main(void)
{
	static const struct {
		const char *s;
		size_t n;
		int valid;
		const char *fixed;
		const char *what;
	} cases[] = {
		{ "", 0, 1, "", "empty" },
		{ "nginx", 5, 1, "nginx", "ASCII" },
		{ "Ren\xc3\xa9", 5, 1, "Ren\xc3\xa9", "two bytes" },
		{ "\xe2\x82\xac", 3, 1, "\xe2\x82\xac", "three bytes (U+20AC)" },
		{ "\xf0\x9f\x90\xb3", 4, 1, "\xf0\x9f\x90\xb3", "four bytes (U+1F433)" },
		{ "\xf4\x8f\xbf\xbf", 4, 1, "\xf4\x8f\xbf\xbf", "U+10FFFF, the last" },
		{ "a\0b", 3, 1, "a", "a NUL is a character (the string stops there in C)" },
		{ "Ren\xe9", 4, 0, "Ren\xef\xbf\xbd", "Latin-1: one byte, one U+FFFD" },
		{ "\xc3", 1, 0, "\xef\xbf\xbd", "cut short at the end" },
		{ "\xc3x", 2, 0, "\xef\xbf\xbdx", "cut short by ASCII" },
		{ "\x80\xbf", 2, 0, "\xef\xbf\xbd\xef\xbf\xbd", "lone continuation bytes" },
		{ "\xc0\xaf", 2, 0, "\xef\xbf\xbd\xef\xbf\xbd", "overlong '/' (C0)" },
		{ "\xe0\x80\xaf", 3, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "overlong in three" },
		{ "\xed\xa0\x80", 3, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "a surrogate" },
		{ "\xf4\x90\x80\x80", 4, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
		  "past U+10FFFF" },
		{ "\xff", 1, 0, "\xef\xbf\xbd", "FF never appears" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(utf8_valid(cases[i].s, cases[i].n), cases[i].valid, "valid: %s", cases[i].what);
		is_str(repaired(cases[i].s, cases[i].n), cases[i].fixed, "repaired: %s",
		       cases[i].what);
	}
	char big[80], out[UTF8_REPAIR_MAX(80)];
	memset(big, 0xe9, sizeof(big));
	is_int(utf8_repair(big, sizeof(big), out), UTF8_REPAIR_MAX(sizeof(big)),
	       "the most it writes: three bytes a byte");
	ok(utf8_valid(out, UTF8_REPAIR_MAX(sizeof(big))), "what it writes is valid");
	return done_testing();
}
