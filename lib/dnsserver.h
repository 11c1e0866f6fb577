/* lib/dnsserver.h -- DNS worker threads answering over UDP and TCP. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct dnsserver;

struct dnsserver_opts {
	const char *listener;		/* IP literal to bind */
	uint16_t port;
	int workers;			/* threads, >= 1 */
	int tcp_idle_timeout;		/* seconds a TCP connection may sit idle */
	int tcp_max_connections;	/* across all workers */
};

/*
 * Bind one UDP and one TCP socket per worker (SO_REUSEPORT, so the kernel
 * spreads load) without starting threads.  Returns NULL and writes a message
 * into err on failure (address in use, permission...).
 */
struct dnsserver *dnsserver_new(const struct dnsserver_opts *o, char *err, size_t errlen);

/* Start the worker threads; each answers from the zone published last. 0 or error. */
int dnsserver_start(struct dnsserver *s);

/* Stop the workers (replies in flight are finished), join them, close sockets, free.
 * NULL is a no-op. */
void dnsserver_free(struct dnsserver *s);
