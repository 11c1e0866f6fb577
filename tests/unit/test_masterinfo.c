/* tests/unit/test_masterinfo.c -- MasterInfo from ZooKeeper nodes: JSON, protobuf, names, addresses. */
#include "lib/masterinfo.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "tests/unit/tap.h"

/* ---- a tiny protobuf writer for the vectors ------------------------------ */

struct pbw {
	uint8_t b[1024];
	size_t n;
};

static void pb_raw(struct pbw *w, const void *p, size_t n)
{
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void pb_varint(struct pbw *w, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		w->b[w->n++] = (uint8_t)(c | (v ? 0x80 : 0));
	} while (v);
}

static void pb_key(struct pbw *w, unsigned field, unsigned wt)
{
	pb_varint(w, (uint64_t)field << 3 | wt);
}

static void pb_str(struct pbw *w, unsigned field, const char *s)
{
	pb_key(w, field, 2);
	pb_varint(w, strlen(s));
	pb_raw(w, s, strlen(s));
}

static void pb_uint(struct pbw *w, unsigned field, uint64_t v)
{
	pb_key(w, field, 0);
	pb_varint(w, v);
}

static void pb_msg(struct pbw *w, unsigned field, const struct pbw *sub)
{
	pb_key(w, field, 2);
	pb_varint(w, sub->n);
	pb_raw(w, sub->b, sub->n);
}

/* ---- helpers ---------------------------------------------------------------- */

static int json_hp(const char *json, char *hp, size_t hplen, char *err, size_t errlen)
{
	struct masterinfo mi;
	int rc = masterinfo_parse_json(json, strlen(json), &mi, err, errlen);

	if (rc == 0) {
		rc = masterinfo_hostport(&mi, hp, hplen);
		masterinfo_clear(&mi);
	}
	return rc;
}

static int pb_hp(const struct pbw *w, char *hp, size_t hplen, char *err, size_t errlen)
{
	struct masterinfo mi;
	int rc = masterinfo_parse_pb(w->b, w->n, &mi, err, errlen);

	if (rc == 0) {
		rc = masterinfo_hostport(&mi, hp, hplen);
		masterinfo_clear(&mi);
	}
	return rc;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_names(void)
{
	int64_t seq = -1;

	is_int(masterinfo_node_kind("json.info_0000000012", &seq), MASTERINFO_NODE_JSON,
	       "json.info_0000000012 is a JSON node");
	is_int(seq, 12, "its sequence is 12");
	is_int(masterinfo_node_kind("info_0000000003", &seq), MASTERINFO_NODE_PB,
	       "info_0000000003 is a protobuf node");
	is_int(seq, 3, "its sequence is 3");
	is_int(masterinfo_node_kind("json.info_-2147483647", &seq), MASTERINFO_NODE_JSON,
	       "a wrapped (negative) sequence is accepted");
	is_int(seq, -2147483647, "and read as negative");
	const char *other[] = { "log_replicas", "json.info_", "info_", "json.info_12a",
				"info_00000000001", "json.info", "xinfo_0000000001", "" };
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		is_int(masterinfo_node_kind(other[i], &seq), MASTERINFO_NODE_OTHER,
		       "'%s' is ignored", other[i]);
}

static void test_json(void)
{
	char hp[MASTERINFO_HOSTPORT_MAX], err[256];
	struct masterinfo mi;
	const char *mesos =
		"{\"address\":{\"hostname\":\"m1\",\"ip\":\"10.0.0.7\",\"port\":5050},"
		"\"hostname\":\"m1\",\"id\":\"abc-123\",\"ip\":117440522,"
		"\"pid\":\"master@10.0.0.7:5050\",\"port\":5050,\"version\":\"1.11.0\"}";

	ok(masterinfo_parse_json(mesos, strlen(mesos), &mi, err, sizeof(err)) == 0,
	   "a Mesos 1.x json.info_ node parses");
	is_str(mi.id, "abc-123", "id");
	is_str(mi.pid, "master@10.0.0.7:5050", "pid");
	is_str(mi.hostname, "m1", "hostname");
	is_str(mi.version, "1.11.0", "version");
	ok(mi.has_ip && mi.ip == 117440522u, "legacy ip");
	is_str(mi.address_ip, "10.0.0.7", "address.ip");
	ok(masterinfo_hostport(&mi, hp, sizeof(hp)) == 0, "has a host:port");
	is_str(hp, "10.0.0.7:5050", "address.ip:address.port");
	masterinfo_clear(&mi);
	masterinfo_clear(&mi);
	ok(mi.id == NULL, "clear twice is harmless");

	ok(json_hp("{\"ip\":16777343,\"port\":5051}", hp, sizeof(hp), err, sizeof(err)) == 0,
	   "legacy ip only");
	is_str(hp, "127.0.0.1:5051", "16777343 is 127.0.0.1 (little-endian read of network order)");
	ok(json_hp("{\"ip\":16777343}", hp, sizeof(hp), err, sizeof(err)) == 0,
	   "legacy ip without port");
	is_str(hp, "127.0.0.1:5050", "port defaults to 5050");
	ok(json_hp("{\"address\":{\"ip\":\"127.0.0.2\",\"port\":6060},\"ip\":16777343,\"port\":5051}",
		   hp, sizeof(hp), err, sizeof(err)) == 0, "address and legacy ip");
	is_str(hp, "127.0.0.2:6060", "address wins over the legacy fields");
	ok(json_hp("{\"address\":{\"ip\":\"127.0.0.2\"},\"ip\":16777343,\"port\":5051}",
		   hp, sizeof(hp), err, sizeof(err)) == 0, "address without port");
	is_str(hp, "127.0.0.1:5051", "address without a port falls back to the legacy fields");
	ok(json_hp("{\"address\":{\"ip\":\"2001:DB8::1\",\"port\":5050}}", hp, sizeof(hp), err,
		   sizeof(err)) == 0, "IPv6 address");
	is_str(hp, "[2001:db8::1]:5050", "IPv6 in brackets, canonical");
	ok(json_hp("{\"address\":{\"hostname\":\"master-1.example\",\"port\":5050},\"port\":5050}",
		   hp, sizeof(hp), err, sizeof(err)) == 0, "hostname only");
	is_str(hp, "master-1.example:5050", "address.hostname when no IP is known");
	ok(json_hp("{\"hostname\":\"m2\",\"port\":5050,\"ip\":0}", hp, sizeof(hp), err,
		   sizeof(err)) == 0, "ip 0 and a hostname");
	is_str(hp, "m2:5050", "hostname when the legacy ip is 0");
	ok(json_hp("{\"address\":{\"ip\":\"not an ip\",\"port\":1},\"ip\":33554559}", hp,
		   sizeof(hp), err, sizeof(err)) == 0, "bad address.ip");
	is_str(hp, "127.0.0.2:5050", "a bad address.ip falls back to the legacy ip");
	ok(json_hp("{\"id\":\"x\",\"unknown\":[1,2,{}]}", hp, sizeof(hp), err, sizeof(err)) ==
	   MDNS_EINVAL, "no address at all -> EINVAL");
	is_str(hp, "", "and an empty host:port");
	ok(json_hp("{\"ip\":16777343,\"port\":70000}", hp, sizeof(hp), err, sizeof(err)) ==
	   MDNS_EINVAL, "port 70000 -> EINVAL");
	ok(json_hp("{\"hostname\":\"a/b@c\",\"port\":5050}", hp, sizeof(hp), err, sizeof(err)) ==
	   MDNS_EINVAL, "a hostname that would change a URL is refused");
	ok(json_hp("{\"ip\":16777343,\"port\":5050}", hp, 8, err, sizeof(err)) == MDNS_EINVAL,
	   "a too small buffer -> EINVAL");

	struct {
		const char *json, *why;
	} bad[] = {
		{ "", "empty" },
		{ "{\"ip\":", "truncated" },
		{ "[1,2]", "not an object" },
		{ "{\"ip\":\"127.0.0.1\"}", "ip a string" },
		{ "{\"ip\":-1}", "ip negative" },
		{ "{\"ip\":4294967296}", "ip over uint32" },
		{ "{\"port\":1.5}", "port a real" },
		{ "{\"address\":\"10.0.0.1:5050\"}", "address a string" },
		{ "{\"address\":{\"port\":\"5050\"}}", "address.port a string" },
		{ "{\"id\":7}", "id a number" },
		{ "{\"hostname\":\"a\\u0000b\"}", "NUL in a string" },
		{ "{\"ip\":16777343} trailing", "trailing garbage" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rc = masterinfo_parse_json(bad[i].json, strlen(bad[i].json), &mi, err,
					       sizeof(err));
		ok(rc == MDNS_EPARSE && strncmp(err, "MasterInfo JSON", 15) == 0,
		   "malformed JSON (%s) -> EPARSE with a message", bad[i].why);
		ok(mi.id == NULL && mi.hostname == NULL, "malformed JSON (%s) leaves nothing",
		   bad[i].why);
	}
	ok(json_hp("{\"ip\":null,\"address\":null,\"hostname\":\"h\"}", hp, sizeof(hp), err,
		   sizeof(err)) == 0, "null values count as absent");
	is_str(hp, "h:5050", "and the hostname is used");
}

static void test_pb(void)
{
	char hp[MASTERINFO_HOSTPORT_MAX], err[256];
	struct masterinfo mi;
	struct pbw w = { .n = 0 }, addr = { .n = 0 };

	/* What a Mesos 0.23 master wrote: id, ip, port, pid, hostname, version. */
	pb_str(&w, 1, "20150101-000000-16777343-5050-1");
	pb_uint(&w, 2, 16777343);
	pb_uint(&w, 3, 5050);
	pb_str(&w, 4, "master@127.0.0.1:5050");
	pb_str(&w, 5, "localhost");
	pb_str(&w, 6, "0.23.0");
	ok(masterinfo_parse_pb(w.b, w.n, &mi, err, sizeof(err)) == 0, "a 0.23 info_ node parses");
	is_str(mi.id, "20150101-000000-16777343-5050-1", "id");
	ok(mi.has_ip && mi.ip == 16777343u, "ip");
	ok(mi.has_port && mi.port == 5050u, "port");
	is_str(mi.pid, "master@127.0.0.1:5050", "pid");
	is_str(mi.hostname, "localhost", "hostname");
	is_str(mi.version, "0.23.0", "version");
	ok(!mi.has_address, "no address");
	ok(masterinfo_hostport(&mi, hp, sizeof(hp)) == 0, "has a host:port");
	is_str(hp, "127.0.0.1:5050", "from the legacy ip");
	masterinfo_clear(&mi);

	/* With an Address message, unknown fields of every wire type around it. */
	pb_str(&addr, 1, "m3");
	pb_str(&addr, 2, "127.0.0.3");
	pb_uint(&addr, 3, 5053);
	pb_uint(&addr, 9, 1);
	pb_msg(&w, 7, &addr);
	pb_key(&w, 20, 1);
	pb_raw(&w, "12345678", 8);
	pb_key(&w, 21, 5);
	pb_raw(&w, "1234", 4);
	pb_str(&w, 22, "ignored");
	pb_uint(&w, 2, 0x1ffffffffULL);	/* uint32 keeps the low bits: 0xffffffff */
	ok(masterinfo_parse_pb(w.b, w.n, &mi, err, sizeof(err)) == 0,
	   "address and unknown fields parse");
	is_str(mi.address_hostname, "m3", "address.hostname");
	is_str(mi.address_ip, "127.0.0.3", "address.ip");
	ok(mi.has_address_port && mi.address_port == 5053, "address.port");
	ok(mi.ip == 0xffffffffu, "a later ip wins, truncated to 32 bits");
	ok(masterinfo_hostport(&mi, hp, sizeof(hp)) == 0, "has a host:port");
	is_str(hp, "127.0.0.3:5053", "address wins");
	masterinfo_clear(&mi);

	/* A negative int32 port is a 10-byte varint: parsed, then refused as a port. */
	struct pbw neg = { .n = 0 }, na = { .n = 0 };
	pb_str(&na, 2, "127.0.0.9");
	pb_uint(&na, 3, (uint64_t)(int64_t)-1);
	pb_msg(&neg, 7, &na);
	pb_uint(&neg, 2, 16777343);
	ok(pb_hp(&neg, hp, sizeof(hp), err, sizeof(err)) == 0, "negative address.port parses");
	is_str(hp, "127.0.0.1:5050", "and falls back to the legacy ip");

	/* Malformed: each must be refused without reading past the end. */
	struct {
		const uint8_t *b;
		size_t n;
		const char *why;
	} bad[] = {
		{ (const uint8_t *)"", 0, "empty" },
		{ (const uint8_t *)"\x0a\x05" "ab", 4, "string length past the end" },
		{ (const uint8_t *)"\x0a\xff\xff\xff\xff\x0f" "a", 7, "huge string length" },
		{ (const uint8_t *)"\x10", 1, "varint missing" },
		{ (const uint8_t *)"\x10\x80\x80", 3, "varint truncated" },
		{ (const uint8_t *)"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11, "varint of 11 bytes" },
		{ (const uint8_t *)"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11, "varint over 64 bits" },
		{ (const uint8_t *)"\x0b\x0c", 2, "group wire type" },
		{ (const uint8_t *)"\x0e", 1, "wire type 6" },
		{ (const uint8_t *)"\x02\x00", 2, "field number 0" },
		{ (const uint8_t *)"\x3a\x03\x12\x05" "a", 5, "address field past its message" },
		{ (const uint8_t *)"\x09" "1234", 5, "fixed64 truncated" },
		{ (const uint8_t *)"\x0a\x03" "a\0b", 5, "NUL in a string" },
		{ (const uint8_t *)"\x80", 1, "key truncated" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		/* Copy to an exact-size heap block so a sanitizer sees any overread. */
		uint8_t *copy = malloc(bad[i].n ? bad[i].n : 1);
		memcpy(copy, bad[i].b, bad[i].n);
		int rc = masterinfo_parse_pb(copy, bad[i].n, &mi, err, sizeof(err));
		ok(rc == MDNS_EPARSE && strncmp(err, "MasterInfo protobuf", 19) == 0,
		   "malformed protobuf (%s) -> EPARSE with a message", bad[i].why);
		ok(mi.id == NULL && mi.address_ip == NULL, "malformed protobuf (%s) leaves nothing",
		   bad[i].why);
		free(copy);
	}

	/* Every prefix of a valid message either parses or is refused cleanly. */
	int clean = 1;
	for (size_t n = 0; n <= w.n; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, w.b, n);
		int rc = masterinfo_parse_pb(copy, n, &mi, err, sizeof(err));
		if (rc != 0 && rc != MDNS_EPARSE)
			clean = 0;
		masterinfo_clear(&mi);
		free(copy);
	}
	ok(clean, "every prefix of a valid message parses or is refused with EPARSE");
}

int main(void)
{
	test_names();
	test_json();
	test_pb();
	return done_testing();
}
