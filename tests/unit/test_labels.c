/* tests/unit/test_labels.c -- label rules, DomainFrag, zbase32 and hash5 (behaviour.md §2). */
#include "zone/labels.h"

#include <string.h>

#include "tests/unit/tap.h"

static char buf[1024];

static const char *lab(const char *in, int rfc952)
{
	label_make(in, rfc952, buf, sizeof(buf));
	return buf;
}

static const char *frag(const char *in, int rfc952)
{
	label_domainfrag(in, rfc952, buf, sizeof(buf));
	return buf;
}

static const char *zb(const void *in, size_t n)
{
	zbase32_encode(in, n, buf, sizeof(buf));
	return buf;
}

static const char *hash5(const char *id)
{
	static char h[6];

	label_task_hash5(id, h);
	return h;
}

/* A string of n copies of c followed by tail. */
static const char *rep(char c, size_t n, const char *tail)
{
	static char s[512];

	memset(s, c, n);
	strcpy(s + n, tail);
	return s;
}

static void test_spec_examples(void)
{
	is_str(lab("a.b.c.d.e", 0), "a-b-c-d-e", "spec: a.b.c.d.e -> a-b-c-d-e (1123)");
	is_str(lab("a.b.c.d.e", 1), "a-b-c-d-e", "spec: a.b.c.d.e -> a-b-c-d-e (952)");
	is_str(lab("---a---b", 0), "a---b", "spec: ---a---b -> a---b (1123)");
	is_str(lab("---a---b", 1), "a---b", "spec: ---a---b -> a---b (952)");
	is_str(lab("chronos with a space AND MIXED CASE-2.0.1", 1),
	       "chronoswithaspaceandmixe", "spec: chronos ... RFC 952 label");
	is_str(lab("chronos with a space AND MIXED CASE-2.0.1", 0),
	       "chronoswithaspaceandmixedcase-2-0-1", "chronos ... RFC 1123 label");
	is_str(frag("chronos with a space AND MIXED CASE-2.0.1", 0),
	       "chronoswithaspaceandmixedcase-2.0.1", "spec: chronos ... DomainFrag RFC 1123");
	is_str(frag("chronos with a space AND MIXED CASE-2.0.1", 1),
	       "chronoswithaspaceandmixe", "chronos ... DomainFrag RFC 952 (\"0\", \"1\" vanish)");
	is_str(frag("pod_123$abc.marathon-0.6.0-dev.mesos", 1),
	       "pod-123abc.marathon-0.dev.mesos", "spec: pod_123$abc... DomainFrag RFC 952");
	is_str(frag("pod_123$abc.marathon-0.6.0-dev.mesos", 0),
	       "pod-123abc.marathon-0.6.0-dev.mesos", "pod_123$abc... DomainFrag RFC 1123");
}

static void test_label_edges(void)
{
	size_t n;

	n = label_make("", 0, buf, sizeof(buf));
	is_int(n, 0, "empty input: length 0");
	is_str(buf, "", "empty input: empty label");
	is_int(label_make(NULL, 0, buf, sizeof(buf)), 0, "NULL input: length 0");
	is_str(lab("$$$ !@#", 0), "", "all-invalid input: empty label");
	is_str(lab("---...___", 0), "", "only separators: empty label");
	is_str(lab("123", 1), "", "RFC 952: only digits -> empty");
	is_str(lab("123", 0), "123", "RFC 1123: digits kept");
	is_str(lab("123abc", 1), "abc", "RFC 952: leading digits trimmed");
	is_str(lab("9-9-9-abc", 1), "abc", "RFC 952: leading digits and dashes interleaved");
	is_str(lab("9-9-9-abc", 0), "9-9-9-abc", "RFC 1123: same name kept");
	is_str(lab("a1-2", 1), "a1-2", "RFC 952: digits after a letter kept");
	is_str(lab("_hello_", 0), "hello", "underscores: leading/trailing trimmed");
	is_str(lab("My_App.v2", 0), "my-app-v2", "label_make: '.' and '_' become '-'");
	is_str(frag("My_App.v2", 0), "my-app.v2", "domainfrag: dots kept, '_' becomes '-'");
	is_str(lab("HeLLo", 0), "hello", "lower-cased");
	is_str(lab("Gr\xc3\xbc\xc3\x9f" "e-Welt", 0), "gre-welt", "UTF-8 bytes dropped");
	is_str(lab("\xff\xfe" "ab\x80", 0), "ab", "high bytes dropped");
	is_str(lab("tab\there", 0), "tabhere", "control characters dropped");

	/* Length limits. */
	n = label_make(rep('a', 63, ""), 0, buf, sizeof(buf));
	is_int(n, 63, "exactly 63 chars kept (1123)");
	n = label_make(rep('a', 64, ""), 0, buf, sizeof(buf));
	is_int(n, 63, "64 chars cut to 63 (1123)");
	is_str(buf, rep('a', 63, ""), "64 chars: the first 63");
	n = label_make(rep('a', 64, ""), 1, buf, sizeof(buf));
	is_int(n, 24, "64 chars cut to 24 (952)");
	is_str(lab(rep('b', 24, ""), 1), rep('b', 24, ""), "exactly 24 chars kept (952)");
	is_str(lab(rep('b', 25, ""), 1), rep('b', 24, ""), "25 chars cut to 24 (952)");
	is_str(lab(rep('-', 10, "abc"), 0), "abc", "leading dashes do not count toward the limit");
	is_str(lab(rep('a', 62, "-"), 0), rep('a', 62, ""), "62 chars + trailing '-': trimmed");

	/* The refill rule. */
	is_str(lab(rep('a', 62, "--bcd"), 0), rep('a', 62, "b"),
	       "refill (1123): cut at 63 ends in '-', refilled from after the dashes");
	is_str(lab("abcdefghijklmnopqrstuvw--x-yz", 1), "abcdefghijklmnopqrstuvwx",
	       "refill (952): dashes at the cut skipped");
	is_str(lab("pod_123$abc.marathon-0.6.0-dev.mesos", 1), "pod-123abc-marathon-0-60",
	       "refill (952): the spec's pod name as one label");
	is_str(lab("pod_123$abc.marathon-0.6.0-dev.mesos", 0),
	       "pod-123abc-marathon-0-6-0-dev-mesos", "pod name as one RFC 1123 label");
	is_str(lab("abcdefghijklmnopqrstuvw-", 1), "abcdefghijklmnopqrstuvw",
	       "refill with nothing left: just trimmed");
	is_str(lab("abcdefghijklmnopqrstuvw---", 1), "abcdefghijklmnopqrstuvw",
	       "refill with only dashes left: just trimmed");
	is_str(lab("abcdefghijklmnopqrstuv---x-", 1), "abcdefghijklmnopqrstuvx",
	       "refill ending in '-': trimmed, never a trailing dash");
	is_str(lab("xxxxxxxxxxxxxxxxxxxx123----456789", 1), "xxxxxxxxxxxxxxxxxxxx1234",
	       "refill (952): digits after the cut are fine");

	/* Small output buffers never overrun. */
	{
		char small[8];

		memset(small, 'Z', sizeof(small));
		n = label_make("abcdefghijkl", 0, small, sizeof(small));
		is_int(n, 7, "outsz 8: label shortened to 7");
		is_str(small, "abcdefg", "outsz 8: NUL-terminated");
		is_int(label_make("abc", 0, small, 0), 0, "outsz 0: nothing written");
	}
}

static void test_domainfrag(void)
{
	char small[8];

	is_str(frag("a.b.c.d.e", 0), "a.b.c.d.e", "domainfrag keeps dots");
	is_str(frag("..a..b..", 0), "a.b", "empty parts dropped");
	is_str(frag("...", 0), "", "only dots: empty");
	is_int(label_domainfrag("...", 0, buf, sizeof(buf)), 0, "only dots: length 0");
	is_str(frag("$.-.b", 0), "b", "parts that map to nothing dropped");
	is_str(frag("1.2.3", 1), "", "RFC 952: all-digit parts dropped");
	is_str(frag("1.2.3", 0), "1.2.3", "RFC 1123: all-digit parts kept");
	is_str(frag("My.Long.Framework.Name", 0), "my.long.framework.name", "lower-cased parts");
	is_str(frag(rep('a', 70, ".b"), 0), rep('a', 63, ".b"), "each part cut to 63");
	is_str(frag("", 0), "", "empty input");
	is_int(label_domainfrag(NULL, 0, buf, sizeof(buf)), 0, "NULL input");
	is_int(label_domainfrag("abc.def", 0, small, sizeof(small)), 7, "fits exactly in 8 bytes");
	is_str(small, "abc.def", "fits exactly: text");
	is_int(label_domainfrag("abc.defg", 0, small, sizeof(small)), 0, "does not fit: 0");
	is_str(small, "", "does not fit: empty string");
}

static void test_zbase32(void)
{
	/* Vectors of the z-base-32 specification (Zooko O'Whielacronx), whole bytes. */
	is_str(zb("\xf0\xbf\xc7", 3), "6n9hq", "zbase32 f0bfc7 -> 6n9hq");
	is_str(zb("\xd4\x7a\x04", 3), "4t7ye", "zbase32 d47a04 -> 4t7ye");
	is_str(zb("", 0), "", "zbase32 of nothing");
	is_str(zb("\x00", 1), "yy", "zbase32 00 -> yy (zero-padded last group)");
	is_str(zb("\xff", 1), "9h", "zbase32 ff -> 9h");
	is_str(zb("foo", 3), "c3zs6", "zbase32 foo");
	is_str(zb("test", 4), "qt1zg7y", "zbase32 of the 4 bytes \"test\"");
	is_str(zb("hello world", 11), "pb1sa5dxrb5s6hucco", "zbase32 hello world");
	is_int(zbase32_encode((const unsigned char *)"hello world", 11, buf, 6), 5,
	       "zbase32 truncated to outsz-1");
	is_str(buf, "pb1sa", "zbase32 truncated: prefix");
}

static void test_hash5(void)
{
	/* "test" -> "iffe9" of the spec is zbase32(sha1("test")), not zbase32("test"). */
	is_str(hash5("test"), "iffe9", "hash5(test) = iffe9 (spec)");
	/* Values computed independently with python3 hashlib.sha1 + zbase32; the
	 * first three also appear in fake.json's known SRV targets. */
	is_str(hash5("liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5"), "4dfjd",
	       "hash5 liquor-store.b8db9f73 (fake.json: liquor-store-4dfjd-0)");
	is_str(hash5("liquor-store.b71166c1-562f-11e4-a088-c20493233aa5"), "zasmd",
	       "hash5 liquor-store.b71166c1 (fake.json: liquor-store-zasmd-1)");
	is_str(hash5("car-store.43758382-562f-11e4-a088-c20493233aa5"), "zinaz",
	       "hash5 car-store.43758382 (fake.json: car-store-zinaz-0)");
	is_str(hash5("nginx.1bc32344-3dda-11e4-a088-c20493233aa5"), "6ud99", "hash5 nginx task");
	is_str(hash5("toy-store.b8db9f73-562f-11e4-a088-c20493233aa5"), "go588", "hash5 toy-store task");
	is_str(hash5(""), "5eh48", "hash5 of the empty id");
}

static void test_valid_name(void)
{
	char big[300];

	ok(label_is_valid_name("liquor.store"), "valid: liquor.store");
	ok(label_is_valid_name("Liquor_Store-1.x"), "valid: mixed case, '_' and '-'");
	ok(label_is_valid_name("a"), "valid: one char");
	ok(!label_is_valid_name(""), "invalid: empty");
	ok(!label_is_valid_name(NULL), "invalid: NULL");
	ok(!label_is_valid_name("a..b"), "invalid: empty label");
	ok(!label_is_valid_name(".a"), "invalid: leading dot");
	ok(!label_is_valid_name("a."), "invalid: trailing dot");
	ok(!label_is_valid_name("a b"), "invalid: space");
	ok(!label_is_valid_name("caf\xc3\xa9"), "invalid: UTF-8");
	ok(!label_is_valid_name("a$b"), "invalid: '$'");
	ok(label_is_valid_name(rep('a', 63, ".b")), "valid: 63-char label");
	ok(!label_is_valid_name(rep('a', 64, ".b")), "invalid: 64-char label");

	/* 4 x 63 + 3 dots = 255 > 253; 3 x 63 + 61 + 3 = 253 exactly. */
	memset(big, 'a', sizeof(big));
	big[63] = big[127] = big[191] = '.';
	big[255] = '\0';
	ok(!label_is_valid_name(big), "invalid: 255 chars in all");
	big[253] = '\0';
	ok(label_is_valid_name(big), "valid: 253 chars in all");
}

int main(void)
{
	test_spec_examples();
	test_label_edges();
	test_domainfrag();
	test_zbase32();
	test_hash5();
	test_valid_name();
	return done_testing();
}
