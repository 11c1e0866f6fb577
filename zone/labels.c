/* zone/labels.c -- DNS label rules and the task hash of behaviour.md §2. */
#include "zone/labels.h"

#include <string.h>

#include <ldns/sha1.h>

/*
 * Map one input byte to its label character: lower-case letters and digits
 * are kept, '-', '.' and '_' become '-', everything else (including every
 * byte >= 0x80, so UTF-8 sequences vanish whole) maps to 0 = dropped.  ASCII
 * only on purpose: tolower() would depend on the locale.
 */
static char label_map(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return (char)c;
	if (c == '-' || c == '.' || c == '_')
		return '-';
	return 0;
}

/* A cursor over the mapped characters of in[0..len). */
struct label_src {
	const char *p;
	const char *end;
};

/* Next mapped character, or 0 at the end of the input. */
static char label_next(struct label_src *s)
{
	while (s->p < s->end) {
		char c = label_map((unsigned char)*s->p++);
		if (c)
			return c;
	}
	return 0;
}

static size_t trim_trailing_dashes(char *out, size_t n)
{
	while (n > 0 && out[n - 1] == '-')
		n--;
	return n;
}

/*
 * The label rule on the bytes in[0..len).  Works as a stream over the mapped
 * characters so that no copy of the (possibly huge) input is needed.
 *
 * The refill rule: when the cut to max characters ends in dashes, trimming
 * them would waste room that the rest of the name could use.  So the dashes
 * at the cut are dropped together with any dashes that follow them, and the
 * label is refilled from the next characters up to max.  The refill is done
 * once; if it in turn ends in a dash, that dash is trimmed too, so the result
 * is always a valid label (never a trailing '-').
 */
static size_t label_make_n(const char *in, size_t len, int rfc952,
			   char *out, size_t outsz)
{
	struct label_src s = { in, in + len };
	size_t max = rfc952 ? LABEL_MAX_RFC952 : LABEL_MAX_RFC1123;
	size_t n = 0;
	char c;

	if (outsz == 0)
		return 0;
	if (max > outsz - 1)
		max = outsz - 1;	/* the contract asks for 64; never overrun */
	if (max == 0) {
		out[0] = '\0';
		return 0;
	}

	/* Leading '-' (and, for RFC 952, leading digits) go. */
	do {
		c = label_next(&s);
	} while (c == '-' || (rfc952 && c >= '0' && c <= '9'));

	/* The cut. */
	while (c && n < max) {
		out[n++] = c;
		if (n < max)
			c = label_next(&s);
	}

	if (n == max) {
		size_t cut = n;

		n = trim_trailing_dashes(out, n);
		if (n < cut) {
			/* Refill, skipping the dashes that follow the cut. */
			do {
				c = label_next(&s);
			} while (c == '-');
			while (c && n < max) {
				out[n++] = c;
				if (n < max)
					c = label_next(&s);
			}
		}
	}
	n = trim_trailing_dashes(out, n);
	out[n] = '\0';
	return n;
}

size_t label_make(const char *in, int rfc952, char *out, size_t outsz)
{
	if (!in) {
		if (outsz)
			out[0] = '\0';
		return 0;
	}
	return label_make_n(in, strlen(in), rfc952, out, outsz);
}

size_t label_domainfrag(const char *in, int rfc952, char *out, size_t outsz)
{
	char part[LABEL_MAX_RFC1123 + 1];
	const char *p, *dot;
	size_t n = 0;

	if (outsz == 0)
		return 0;
	out[0] = '\0';
	if (!in)
		return 0;

	for (p = in;; p = dot + 1) {
		size_t plen, l;

		dot = strchr(p, '.');
		plen = dot ? (size_t)(dot - p) : strlen(p);
		l = label_make_n(p, plen, rfc952, part, sizeof(part));
		if (l > 0) {
			size_t need = l + (n > 0);

			if (n + need >= outsz) {
				out[0] = '\0';
				return 0;
			}
			if (n > 0)
				out[n++] = '.';
			memcpy(out + n, part, l);
			n += l;
			out[n] = '\0';
		}
		if (!dot)
			break;
	}
	return n;
}

size_t zbase32_encode(const unsigned char *in, size_t n, char *out, size_t outsz)
{
	static const char alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
	unsigned int acc = 0;	/* bits not yet written, right-aligned */
	unsigned int nbits = 0;
	size_t o = 0, i;

	if (outsz == 0)
		return 0;
	for (i = 0; i < n && o + 1 < outsz; i++) {
		acc = (acc << 8) | in[i];
		nbits += 8;
		while (nbits >= 5 && o + 1 < outsz) {
			nbits -= 5;
			out[o++] = alphabet[(acc >> nbits) & 31];
		}
		acc &= (1u << nbits) - 1;	/* keep acc small: at most 4 live bits */
	}
	/* A last partial group is padded with zero bits on the right. */
	if (i == n && nbits > 0 && o + 1 < outsz)
		out[o++] = alphabet[(acc << (5 - nbits)) & 31];
	out[o] = '\0';
	return o;
}

void label_task_hash5(const char *task_id, char out[6])
{
	unsigned char digest[LDNS_SHA1_DIGEST_LENGTH];
	size_t len = task_id ? strlen(task_id) : 0;

	/* ldns_sha1 takes an unsigned int length; task ids are short, but clamp
	 * rather than wrap for absurd inputs. */
	if (len > 0xffffffffu)
		len = 0xffffffffu;
	ldns_sha1((const unsigned char *)(task_id ? task_id : ""),
		  (unsigned int)len, digest);
	/* 5 characters need 25 bits: 4 bytes are enough. */
	zbase32_encode(digest, 4, out, 6);
}

static int name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int label_is_valid_name(const char *s)
{
	size_t total = 0, lab = 0;

	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		if (++total > 253)
			return 0;
		if (*s == '.') {
			if (lab == 0)
				return 0;	/* empty label, leading dot or ".." */
			lab = 0;
			continue;
		}
		if (!name_char_ok((unsigned char)*s) || ++lab > 63)
			return 0;
	}
	return lab > 0;	/* a trailing dot leaves an empty last label */
}
