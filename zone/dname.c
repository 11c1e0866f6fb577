/* zone/dname.c -- domain names in wire format. */
#include "zone/dname.h"

#include <stdio.h>
#include <string.h>

static inline uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

size_t dname_from_text(const char *text, uint8_t *out)
{
	size_t len = strlen(text), o = 0;

	if (len == 0 || (len == 1 && text[0] == '.')) {
		out[0] = 0;
		return 1;
	}
	if (text[len - 1] == '.')
		len--;
	size_t start = 0;
	while (start <= len) {
		size_t end = start;
		while (end < len && text[end] != '.')
			end++;
		size_t ll = end - start;
		if (ll == 0 || ll > 63 || o + 1 + ll + 1 > DNAME_MAXLEN)
			return 0;
		out[o++] = (uint8_t)ll;
		for (size_t i = start; i < end; i++)
			out[o++] = lower((uint8_t)text[i]);
		start = end + 1;
	}
	out[o++] = 0;
	return o;
}

char *dname_to_text(const uint8_t *wire, char *buf, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return buf;
	if (wire[0] == 0) {
		snprintf(buf, len, ".");
		return buf;
	}
	while (*wire && o + 1 < len) {
		uint8_t ll = *wire++;
		for (uint8_t i = 0; i < ll && o + 1 < len; i++) {
			uint8_t c = *wire++;
			int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				    (c >= '0' && c <= '9') || c == '-' || c == '_';
			if (plain)
				buf[o++] = (char)c;
			else if (o + 4 < len)
				o += (size_t)snprintf(buf + o, len - o, "\\%03u", c);
		}
		if (o + 1 < len)
			buf[o++] = '.';
	}
	buf[o] = 0;
	return buf;
}

unsigned dname_labels(const uint8_t *wire)
{
	unsigned n = 0;
	while (*wire) {
		wire += *wire + 1;
		n++;
	}
	return n;
}

size_t dname_len(const uint8_t *wire)
{
	const uint8_t *p = wire;
	while (*p)
		p += *p + 1;
	return (size_t)(p - wire) + 1;
}

void dname_lower(uint8_t *wire)
{
	while (*wire) {
		uint8_t ll = *wire++;
		for (uint8_t i = 0; i < ll; i++, wire++)
			*wire = lower(*wire);
	}
}

int dname_canon_cmp(const uint8_t *a, const uint8_t *b)
{
	const uint8_t *la[128], *lb[128];
	int na = 0, nb = 0;

	for (const uint8_t *p = a; *p && na < 128; p += *p + 1)
		la[na++] = p;
	for (const uint8_t *p = b; *p && nb < 128; p += *p + 1)
		lb[nb++] = p;
	while (na > 0 && nb > 0) {
		const uint8_t *x = la[--na], *y = lb[--nb];
		size_t n = x[0] < y[0] ? x[0] : y[0];
		int c = memcmp(x + 1, y + 1, n);
		if (c)
			return c;
		if (x[0] != y[0])
			return x[0] < y[0] ? -1 : 1;
	}
	return na - nb;
}

int dname_under(const uint8_t *name, size_t namelen, const uint8_t *apex, size_t apexlen)
{
	if (namelen < apexlen)
		return -1;
	/* Walk label boundaries so a match must start at one. */
	size_t off = 0;
	while (namelen - off > apexlen)
		off += name[off] + 1u;
	if (namelen - off != apexlen || memcmp(name + off, apex, apexlen) != 0)
		return -1;
	return (int)off;
}

int dname_skip(const uint8_t *msg, size_t end, size_t *offp, int *is_root)
{
	size_t off = *offp, next = 0, total = 0;

	for (;;) {
		if (off >= end)
			return -1;
		uint8_t c = msg[off];
		if ((c & 0xc0) == 0xc0) {
			if (end - off < 2)
				return -1;
			size_t t = (size_t)(c & 0x3f) << 8 | msg[off + 1];
			if (t < 12 || t >= off)
				return -1;
			if (!next)
				next = off + 2;
			off = t;
			continue;
		}
		if (c & 0xc0)
			return -1;	/* 0x40 / 0x80 label types */
		total += c + 1u;
		if (total > DNAME_MAXLEN)
			return -1;
		if (c == 0)
			break;
		off += c + 1u;
	}
	*offp = next ? next : off + 1;
	if (is_root)
		*is_root = total == 1;
	return 0;
}
