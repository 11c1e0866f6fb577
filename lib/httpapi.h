/* lib/httpapi.h -- the HTTP API of behaviour.md §5: mesos-dns endpoints, /metrics, /health, /ready. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct config;
struct refresher;
struct dnsserver;
struct zk;

/* Longest request target (path and query) answered; longer ones get 414. */
#define HTTPAPI_MAX_URI 4096
/* Request line plus headers; libevent rejects larger heads itself (400). */
#define HTTPAPI_MAX_HEADERS (16 * 1024)
/* Request bodies are never used; larger ones are refused by libevent (413). */
#define HTTPAPI_MAX_BODY 4096

struct httpapi_opts {
	const char *listener;		/* IP literal (HTTPListener) */
	uint16_t port;			/* httpport */
	const struct config *cfg;	/* borrowed; must outlive the server */
	struct refresher *refresher;	/* borrowed, may be NULL (health then says so) */
	const char *version;		/* /v1/version and build info */
	const char *url;		/* project URL for /v1/version */
	int max_connections;		/* open connections; the listener pauses at the cap */
	int timeout_seconds;		/* idle/read/write timeout of a connection */
	const struct dnsserver *dns;	/* borrowed, may be NULL: forwarding counters */
	const struct zk *zk;		/* borrowed, may be NULL: ZooKeeper state for
					   /health and /metrics */
};

struct httpapi;

/*
 * Bind HTTPListener:httpport and serve on base (the control thread's loop;
 * every handler runs there, never on a DNS thread).  Returns NULL and a
 * message naming the address in err when the socket cannot be bound.
 */
struct httpapi *httpapi_new(struct event_base *base, const struct httpapi_opts *o,
			    char *err, size_t errlen);

/* /ready answers 200 from now on (ready != 0) or 503. */
void httpapi_set_ready(struct httpapi *h, int ready);

/* After a reload (control thread): answer from cfg / zk (borrowed as in
 * httpapi_opts; zk may be NULL) from the next request on.  NULL h: no-op. */
void httpapi_set_config(struct httpapi *h, const struct config *cfg);
void httpapi_set_zk(struct httpapi *h, const struct zk *zk);

/* Close the listener and every connection, free; NULL is a no-op. */
void httpapi_free(struct httpapi *h);

/* ---- routing (pure, exposed for tests and the fuzzer) ------------------ */

enum httpapi_route {
	HTTPAPI_NOT_FOUND = 0,		/* no such path */
	HTTPAPI_BAD_REQUEST,		/* malformed escape, NUL, invalid name */
	HTTPAPI_VERSION,		/* /v1/version */
	HTTPAPI_CONFIG,			/* /v1/config */
	HTTPAPI_HOSTS,			/* /v1/hosts/{host} */
	HTTPAPI_HOST_PORTS,		/* /v1/hosts/{host}/ports */
	HTTPAPI_SERVICES,		/* /v1/services/{service} */
	HTTPAPI_ENUMERATE,		/* /v1/enumerate */
	HTTPAPI_AXFR,			/* /v1/axfr */
	HTTPAPI_METRICS,		/* /metrics */
	HTTPAPI_HEALTH,			/* /health */
	HTTPAPI_READY,			/* /ready */
};

/*
 * Route a request path (the part before '?', still percent-encoded, len
 * bytes, not necessarily NUL-terminated).  Segments are percent-decoded
 * one by one, so an encoded '/' stays inside its segment.  For the routes
 * that take a name, the decoded name is written to arg (argcap >= 256) and
 * must be a DNS name of [A-Za-z0-9_-] labels, trailing dot optional, else
 * HTTPAPI_BAD_REQUEST.  Pure: no allocation, no global state.
 */
enum httpapi_route httpapi_route(const char *path, size_t len, char *arg, size_t argcap);
