/* lib/resolvconf.c -- nameservers of /etc/resolv.conf, for an explicit "resolvers": []. */
#include "lib/resolvconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/acl.h"
#include "lib/err.h"

#define RESOLVCONF_MAX 16	/* glibc uses 3; keep a few more, they cost nothing */
#define RESOLVCONF_SIZE_MAX (1 << 20)

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Parse one address token (tok, tl bytes) into ns; 0 or -1. */
static int parse_addr(const char *tok, size_t tl, struct resolvconf_ns *ns)
{
	char buf[64], canon[INET6_ADDRSTRLEN];
	const char *scope = NULL;

	if (tl == 0 || tl >= sizeof(buf))
		return -1;
	memcpy(buf, tok, tl);
	buf[tl] = '\0';
	memset(ns, 0, sizeof(*ns));
	char *pct = strchr(buf, '%');
	if (pct) {
		*pct = '\0';
		scope = pct + 1;
		if (*scope == '\0')
			return -1;
	}
	if (!pct && inet_pton(AF_INET, buf, ns->addr) == 1) {
		ns->af = AF_INET;
	} else if (inet_pton(AF_INET6, buf, ns->addr) == 1) {
		ns->af = AF_INET6;
	} else {
		return -1;
	}
	inet_ntop(ns->af, ns->addr, canon, sizeof(canon));
	int n = snprintf(ns->text, sizeof(ns->text), "%s%s%s", canon, scope ? "%" : "",
			 scope ? scope : "");
	return n > 0 && (size_t)n < sizeof(ns->text) ? 0 : -1;
}

size_t resolvconf_parse(const char *text, size_t len, struct resolvconf_ns *out, size_t max)
{
	static const char kw[] = "nameserver";
	const size_t kwl = sizeof(kw) - 1;
	size_t n = 0, pos = 0;

	while (pos < len && n < max) {
		const char *eol = memchr(text + pos, '\n', len - pos);
		size_t end = eol ? (size_t)(eol - text) : len;
		const char *p = text + pos, *e = text + end;
		pos = end + 1;

		if ((size_t)(e - p) <= kwl || memcmp(p, kw, kwl) != 0 || !is_blank(p[kwl]))
			continue;	/* comments, other keywords, "nameserverX" */
		p += kwl;
		while (p < e && is_blank(*p))
			p++;
		const char *t = p;
		while (p < e && !is_blank(*p) && *p != '#' && *p != ';')
			p++;
		struct resolvconf_ns ns;
		if (parse_addr(t, (size_t)(p - t), &ns) != 0)
			continue;
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(out[i].text, ns.text) == 0)
				break;
		if (i == n)
			out[n++] = ns;
	}
	return n;
}

int resolvconf_listener_gets(int af, const uint8_t *addr, const char *listener,
			     const struct acl *own)
{
	uint8_t l[16];
	static const uint8_t zero[16];
	size_t n = af == AF_INET ? 4 : 16;

	if (!listener || (af != AF_INET && af != AF_INET6) || inet_pton(af, listener, l) != 1)
		return 0;	/* (sockets are IPV6_V6ONLY: no family crosses) */
	if (memcmp(l, addr, n) == 0)
		return 1;
	if (memcmp(l, zero, n) != 0)
		return 0;
	/* a wildcard socket receives on loopback and every local address */
	if (af == AF_INET ? addr[0] == 127
			  : IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)(const void *)addr))
		return 1;
	return own && acl_match_addr(own, af, addr);
}

int resolvconf_is_self(const struct resolvconf_ns *ns, const struct acl *own,
		       const char *listener, uint16_t port)
{
	if (own && acl_match_addr(own, ns->af, ns->addr))
		return 1;
	return port == 53 && resolvconf_listener_gets(ns->af, ns->addr, listener, NULL);
}

/* Read a whole (small) file; caller frees.  0 or negated errno / MDNS_ETOOBIG. */
static int slurp(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "r");
	size_t cap = 4096, n = 0;
	char *buf;

	if (!f)
		return -errno;
	buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			if (cap >= RESOLVCONF_SIZE_MAX) {
				free(buf);
				fclose(f);
				return MDNS_ETOOBIG;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	int rerr = ferror(f) ? errno : 0;
	fclose(f);
	if (!buf)
		return MDNS_ENOMEM;
	if (rerr) {
		free(buf);
		return -rerr;
	}
	*text = buf;
	*len = n;
	return 0;
}

int resolvconf_upstreams(const char *path, const char *listener, uint16_t port,
			 char ***out, size_t *n, void (*note)(void *ctx, const char *text), void *ctx)
{
	struct resolvconf_ns ns[RESOLVCONF_MAX];
	char *text = NULL, **v;
	size_t len = 0, cnt, k = 0;
	struct acl *own;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = slurp(path, &text, &len)) != 0)
		return rc;
	cnt = resolvconf_parse(text, len, ns, RESOLVCONF_MAX);
	free(text);
	own = acl_new();
	v = calloc(cnt + 1, sizeof(*v));
	if (!own || !v) {
		acl_free(own);
		free(v);
		return MDNS_ENOMEM;
	}
	/* Without the interface list only the listener check protects us. */
	if (acl_add_local(own, false) != 0 && note)
		note(ctx, "cannot list this host's addresses; only the listener is excluded");
	for (size_t i = 0; i < cnt; i++) {
		char buf[128];
		if (resolvconf_is_self(&ns[i], own, listener, port)) {
			if (note) {
				snprintf(buf, sizeof(buf), "%s is this host, skipped", ns[i].text);
				note(ctx, buf);
			}
			continue;
		}
		if (ns[i].af == AF_INET6)
			snprintf(buf, sizeof(buf), "[%s]:53", ns[i].text);
		else
			snprintf(buf, sizeof(buf), "%s", ns[i].text);
		if (!(v[k] = strdup(buf))) {
			for (size_t j = 0; j < k; j++)
				free(v[j]);
			free(v);
			acl_free(own);
			return MDNS_ENOMEM;
		}
		k++;
	}
	acl_free(own);
	*out = v;
	*n = k;
	return 0;
}
