/* lib/masterinfo.c -- decode the MasterInfo a Mesos master registers in ZooKeeper. */
#include "lib/masterinfo.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "zone/ipaddr.h"

#define MASTERINFO_DEFAULT_PORT 5050
#define MASTERINFO_MAX_DEPTH 2		/* MasterInfo, then its Address */

void masterinfo_clear(struct masterinfo *mi)
{
	if (!mi)
		return;
	free(mi->id);
	free(mi->pid);
	free(mi->hostname);
	free(mi->version);
	free(mi->address_hostname);
	free(mi->address_ip);
	memset(mi, 0, sizeof(*mi));
}

/* ---- node names -------------------------------------------------------- */

enum masterinfo_node masterinfo_node_kind(const char *name, int64_t *seq)
{
	enum masterinfo_node kind;
	const char *p;
	int neg = 0;
	int64_t v = 0;
	size_t ndig = 0;

	if (strncmp(name, "json.info_", 10) == 0) {
		kind = MASTERINFO_NODE_JSON;
		p = name + 10;
	} else if (strncmp(name, "info_", 5) == 0) {
		kind = MASTERINFO_NODE_PB;
		p = name + 5;
	} else {
		return MASTERINFO_NODE_OTHER;
	}
	if (*p == '-') {
		neg = 1;
		p++;
	}
	/* ZooKeeper writes %010d of a signed 32-bit counter: at most 10 digits. */
	for (; *p >= '0' && *p <= '9'; p++) {
		if (++ndig > 10)
			return MASTERINFO_NODE_OTHER;
		v = v * 10 + (*p - '0');
	}
	if (*p || ndig == 0)
		return MASTERINFO_NODE_OTHER;
	*seq = neg ? -v : v;
	return kind;
}

/* ---- JSON ------------------------------------------------------------------ */

/* *dst = copy of obj[key] if a string; absent or null leaves it NULL. */
static int json_str(json_t *obj, const char *key, char **dst, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		mdns_set_err(err, errlen, "MasterInfo JSON: \"%s\" is not a string", key);
		return MDNS_EPARSE;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		mdns_set_err(err, errlen, "MasterInfo JSON: \"%s\" contains a NUL character", key);
		return MDNS_EPARSE;
	}
	free(*dst);
	*dst = strdup(json_string_value(v));
	return *dst ? 0 : MDNS_ENOMEM;
}

/* obj[key] as an integer in [lo, hi]; *has = 0 when absent or null. */
static int json_int(json_t *obj, const char *key, long long lo, long long hi, int *has,
		    long long *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*has = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		mdns_set_err(err, errlen, "MasterInfo JSON: \"%s\" is not an integer in %lld..%lld",
		       key, lo, hi);
		return MDNS_EPARSE;
	}
	*has = 1;
	*out = json_integer_value(v);
	return 0;
}

int masterinfo_parse_json(const char *buf, size_t len, struct masterinfo *out,
			  char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *addr;
	long long n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	root = json_loadb(buf, len, JSON_ALLOW_NUL, &jerr);
	if (!root) {
		mdns_set_err(err, errlen, "MasterInfo JSON: %s at line %d, column %d", jerr.text,
		       jerr.line, jerr.column);
		return MDNS_EPARSE;
	}
	if (!json_is_object(root)) {
		mdns_set_err(err, errlen, "MasterInfo JSON: the document is not an object");
		rc = MDNS_EPARSE;
		goto out;
	}
	if ((rc = json_str(root, "id", &out->id, err, errlen)) ||
	    (rc = json_str(root, "pid", &out->pid, err, errlen)) ||
	    (rc = json_str(root, "hostname", &out->hostname, err, errlen)) ||
	    (rc = json_str(root, "version", &out->version, err, errlen)))
		goto out;
	if ((rc = json_int(root, "ip", 0, UINT32_MAX, &out->has_ip, &n, err, errlen)))
		goto out;
	out->ip = (uint32_t)n;
	if ((rc = json_int(root, "port", 0, UINT32_MAX, &out->has_port, &n, err, errlen)))
		goto out;
	out->port = (uint32_t)n;
	addr = json_object_get(root, "address");
	if (addr && !json_is_null(addr)) {
		if (!json_is_object(addr)) {
			mdns_set_err(err, errlen, "MasterInfo JSON: \"address\" is not an object");
			rc = MDNS_EPARSE;
			goto out;
		}
		out->has_address = 1;
		if ((rc = json_str(addr, "hostname", &out->address_hostname, err, errlen)) ||
		    (rc = json_str(addr, "ip", &out->address_ip, err, errlen)) ||
		    (rc = json_int(addr, "port", INT32_MIN, INT32_MAX, &out->has_address_port, &n,
				   err, errlen)))
			goto out;
		out->address_port = (int32_t)n;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc)
		masterinfo_clear(out);
	return rc;
}

/* ---- protobuf -------------------------------------------------------------- */

/*
 * Just enough of the protobuf wire format for MasterInfo: each field is a
 * varint key (field number << 3 | wire type) followed by a varint (0), 8
 * bytes (1), a varint length and that many bytes (2) or 4 bytes (5).
 */
enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_SGROUP = 3, PB_EGROUP = 4, PB_FIXED32 = 5 };

struct pb_reader {
	const uint8_t *p, *end;
};

/* A varint of at most 10 bytes; MDNS_EPARSE when truncated or longer. */
static int pb_varint(struct pb_reader *r, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (r->p >= r->end)
			return MDNS_EPARSE;
		uint8_t b = *r->p++;
		/* The tenth byte may only carry the top bit of a 64-bit value. */
		if (shift == 63 && b > 1)
			return MDNS_EPARSE;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return MDNS_EPARSE;
}

/* Copy a length-delimited string field; NUL bytes inside are refused. */
static int pb_string(const uint8_t *p, size_t n, char **dst, const char *what,
		     char *err, size_t errlen)
{
	char *s;

	if (memchr(p, 0, n)) {
		mdns_set_err(err, errlen, "MasterInfo protobuf: %s contains a NUL byte", what);
		return MDNS_EPARSE;
	}
	s = malloc(n + 1);
	if (!s)
		return MDNS_ENOMEM;
	memcpy(s, p, n);
	s[n] = '\0';
	free(*dst);
	*dst = s;
	return 0;
}

/* Decode a message of the given depth (0 = MasterInfo, 1 = Address) into mi. */
static int pb_message(struct pb_reader *r, int depth, struct masterinfo *mi,
		      char *err, size_t errlen)
{
	while (r->p < r->end) {
		uint64_t key, v = 0, n = 0;
		const uint8_t *data = NULL;
		int rc;

		if (pb_varint(r, &key) != 0) {
			mdns_set_err(err, errlen, "MasterInfo protobuf: truncated field key");
			return MDNS_EPARSE;
		}
		uint64_t field = key >> 3;
		unsigned wt = (unsigned)(key & 7);
		if (field == 0 || field > 0x1fffffff) {
			mdns_set_err(err, errlen, "MasterInfo protobuf: invalid field number %llu",
			       (unsigned long long)field);
			return MDNS_EPARSE;
		}
		switch (wt) {
		case PB_VARINT:
			if (pb_varint(r, &v) != 0) {
				mdns_set_err(err, errlen, "MasterInfo protobuf: field %llu: bad varint",
				       (unsigned long long)field);
				return MDNS_EPARSE;
			}
			break;
		case PB_FIXED64:
		case PB_FIXED32: {
			size_t w = wt == PB_FIXED64 ? 8 : 4;
			if ((size_t)(r->end - r->p) < w) {
				mdns_set_err(err, errlen, "MasterInfo protobuf: field %llu: truncated",
				       (unsigned long long)field);
				return MDNS_EPARSE;
			}
			r->p += w;
			continue;	/* no MasterInfo field is fixed-width */
		}
		case PB_LEN:
			if (pb_varint(r, &n) != 0 || n > (uint64_t)(r->end - r->p)) {
				mdns_set_err(err, errlen, "MasterInfo protobuf: field %llu: length past the end",
				       (unsigned long long)field);
				return MDNS_EPARSE;
			}
			data = r->p;
			r->p += n;
			break;
		default:
			mdns_set_err(err, errlen, "MasterInfo protobuf: field %llu: unsupported wire type %u",
			       (unsigned long long)field, wt);
			return MDNS_EPARSE;
		}

		/* A known field number with another wire type is an unknown field, as in protobuf. */
		if (depth == 0) {
			rc = 0;
			if (field == 1 && wt == PB_LEN)
				rc = pb_string(data, n, &mi->id, "id", err, errlen);
			else if (field == 2 && wt == PB_VARINT) {
				mi->has_ip = 1;
				mi->ip = (uint32_t)v;	/* uint32 keeps the low 32 bits */
			} else if (field == 3 && wt == PB_VARINT) {
				mi->has_port = 1;
				mi->port = (uint32_t)v;
			} else if (field == 4 && wt == PB_LEN)
				rc = pb_string(data, n, &mi->pid, "pid", err, errlen);
			else if (field == 5 && wt == PB_LEN)
				rc = pb_string(data, n, &mi->hostname, "hostname", err, errlen);
			else if (field == 6 && wt == PB_LEN)
				rc = pb_string(data, n, &mi->version, "version", err, errlen);
			else if (field == 7 && wt == PB_LEN) {
				struct pb_reader sub = { data, data + n };
				mi->has_address = 1;
				rc = pb_message(&sub, depth + 1, mi, err, errlen);
			}
			if (rc)
				return rc;
		} else if (depth < MASTERINFO_MAX_DEPTH) {
			rc = 0;
			if (field == 1 && wt == PB_LEN)
				rc = pb_string(data, n, &mi->address_hostname, "address.hostname",
					       err, errlen);
			else if (field == 2 && wt == PB_LEN)
				rc = pb_string(data, n, &mi->address_ip, "address.ip", err, errlen);
			else if (field == 3 && wt == PB_VARINT) {
				mi->has_address_port = 1;
				mi->address_port = (int32_t)(uint32_t)v;	/* int32: low 32 bits */
			}
			if (rc)
				return rc;
		}
	}
	return 0;
}

int masterinfo_parse_pb(const uint8_t *buf, size_t len, struct masterinfo *out,
			char *err, size_t errlen)
{
	struct pb_reader r = { buf, buf + len };
	int rc;

	memset(out, 0, sizeof(*out));
	if (!buf && len)
		return MDNS_EINVAL;
	if (len == 0) {
		mdns_set_err(err, errlen, "MasterInfo protobuf: empty node");
		return MDNS_EPARSE;
	}
	rc = pb_message(&r, 0, out, err, errlen);
	if (rc)
		masterinfo_clear(out);
	return rc;
}

/* ---- where to reach it --------------------------------------------------- */

/* A host name fit for a URL: letters, digits, '-', '_', '.', at most 253. */
static int mi_hostname_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

int masterinfo_hostport(const struct masterinfo *mi, char *out, size_t outlen)
{
	struct ipaddr a;
	char ip[64];
	uint32_t port = mi->has_port ? mi->port : MASTERINFO_DEFAULT_PORT;
	int n = -1;

	if (outlen)
		out[0] = '\0';
	if (mi->address_ip && mi->has_address_port && mi->address_port >= 1 &&
	    mi->address_port <= 65535 && ipaddr_parse(mi->address_ip, &a) == 0) {
		ipaddr_format(&a, ip, sizeof(ip));
		n = snprintf(out, outlen, a.af == 6 ? "[%s]:%d" : "%s:%d", ip,
			     (int)mi->address_port);
	} else if (port < 1 || port > 65535) {
		return MDNS_EINVAL;
	} else if (mi->has_ip && mi->ip != 0) {
		/* Mesos stored the in_addr's bytes as a uint32 on a little-endian host. */
		n = snprintf(out, outlen, "%u.%u.%u.%u:%u", mi->ip & 0xff, (mi->ip >> 8) & 0xff,
			     (mi->ip >> 16) & 0xff, mi->ip >> 24, port);
	} else if (mi_hostname_ok(mi->address_hostname)) {
		n = snprintf(out, outlen, "%s:%u", mi->address_hostname, port);
	} else if (mi_hostname_ok(mi->hostname)) {
		n = snprintf(out, outlen, "%s:%u", mi->hostname, port);
	}
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			out[0] = '\0';
		return MDNS_EINVAL;
	}
	return 0;
}
