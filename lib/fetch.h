/* lib/fetch.h -- fetch a master's state over HTTP(S) with libcurl multi on libevent. */
#pragma once

#include <stddef.h>

struct event_base;
struct config;
struct fetcher;

/* Largest state document accepted (behaviour.md §1.3). */
#define FETCH_MAX_BYTES (256u * 1024 * 1024)

/* Outcome of one fetch, handed to the callback. */
struct fetch_result {
	int rc;			/* 0, or a negative MDNS_E* code */
	long http_status;	/* last HTTP status, 0 if none */
	char *body;		/* NUL-terminated body on success, NULL on failure; the callback owns it (free()) */
	size_t len;		/* body length without the NUL */
	char url[512];		/* the URL that produced this result */
	char err[256];		/* on failure: one line a person can act on */
};

/*
 * Create a fetcher driving libcurl's multi interface from base's event loop;
 * it never blocks the loop.  cfg (borrowed; must outlive the fetcher, or be
 * replaced with fetcher_set_config) supplies stateTimeoutSeconds (<= 0 or a
 * NULL cfg: 300 s), MesosHTTPSOn with CACertFile/CertFile/KeyFile (without
 * CACertFile the system CA store verifies, and a warning says so once),
 * mesosAuthentication "basic" with mesosCredentials, and "iam" with
 * IAMConfigFile: before a fetch without a usable token, one login (an RS256
 * JWT POSTed to the account's login_endpoint on the same multi handle, with
 * CACertFile when set) gets a token that is sent as "Authorization:
 * token=<token>" and reused until shortly before its exp (10% of its life,
 * at most 5 min; an opaque token is taken to last 1 h); a 401 to a token
 * makes that fetch log in again, once.  Returns NULL on failure.
 *
 * The first call initialises libcurl (curl_global_init, once per process);
 * a program that wants a clean exit calls curl_global_cleanup() after its
 * last fetcher_free().
 */
struct fetcher *fetcher_new(struct event_base *base, const struct config *cfg);

/*
 * Cancel transfers in flight (their callbacks are not called) and free.
 * NULL is a no-op.  May be called from inside a done callback: the fetcher
 * is then freed as soon as that callback returns, and no further callback runs.
 */
void fetcher_free(struct fetcher *f);

/*
 * Cancel every fetch in flight or waiting for an IAM login; their callbacks
 * are not called.  A login under way goes on (its token stays useful).  Not
 * from inside a done callback.
 */
void fetcher_cancel_all(struct fetcher *f);

/*
 * Cancel the fetches and streams started with this ctx (others go on); their
 * callbacks are not called.  Not from inside a callback of this fetcher.
 */
void fetcher_cancel_ctx(struct fetcher *f, void *ctx);

/* Use cfg (borrowed, as in fetcher_new) for fetches started from now on. */
void fetcher_set_config(struct fetcher *f, const struct config *cfg);

/* Lower the body limit (default FETCH_MAX_BYTES) for fetches started from now on; for tests. */
void fetcher_set_max_bytes(struct fetcher *f, size_t max);

/* Number of fetches started whose callback has not run yet. */
size_t fetcher_pending(const struct fetcher *f);

/* IAM logins attempted so far (for metrics and tests). */
unsigned long long fetcher_iam_logins(const struct fetcher *f);

/*
 * The path the next fetch from hostport starts with: "/master/state", or
 * "/master/state.json" once that master answered 404 to the former and 2xx
 * to the latter.  Returns a static string.
 */
const char *fetcher_path_for(const struct fetcher *f, const char *hostport);

/*
 * Fetch the state of one master, hostport "host:port" ("[v6]:port" for IPv6):
 * GET http(s)://hostport/master/state; on 404 retry /master/state.json and
 * remember per hostport which path worked.  Sends User-Agent
 * mesos-dnsd/<version>, accepts gzip, enforces stateTimeoutSeconds and
 * FETCH_MAX_BYTES (connecting, TLS included, may take at most 10 s of it,
 * so a vanished host does not hold a cycle up).  done(ctx, result) is called
 * exactly once, later, from the event loop (never from inside fetch_state).
 * Several fetches may run at once.  Redirects (a non-leading master may answer 307) are followed, at most 5.
 * Result codes: 0; MDNS_EHTTP (non-2xx, http_status set); MDNS_ETIMEDOUT;
 * MDNS_ETOOBIG; MDNS_ECURL (connect, TLS, ... with curl's message in err);
 * MDNS_ENOMEM.  fetch_state may be called from inside a done callback.
 * Returns 0, or a negative code if the fetch could not be started (then done
 * is not called): MDNS_EINVAL for a malformed hostport, MDNS_ENOMEM, MDNS_ECURL.
 */
int fetch_state(struct fetcher *f, const char *hostport,
		void (*done)(void *ctx, struct fetch_result *r), void *ctx);

/*
 * GET http(s)://hostport<path> (path: an absolute path of [A-Za-z0-9/._-], no
 * query) with the same options, limits, authentication and result codes as
 * fetch_state, without the /master/state.json fallback.  done is called once,
 * later, from the event loop.  Returns 0 or MDNS_EINVAL / MDNS_ENOMEM /
 * MDNS_ECURL (then done is not called).
 */
int fetch_get(struct fetcher *f, const char *hostport, const char *path,
	      void (*done)(void *ctx, struct fetch_result *r), void *ctx);

/* Callbacks of a streamed response (fetch_stream); all run on the event loop. */
struct fetch_stream_ops {
	/*
	 * The response head arrived with a 2xx status and its body starts; url
	 * is the effective URL (after redirects), borrowed for the call.
	 */
	void (*open)(void *ctx, long status, const char *url);
	/*
	 * The next bytes of a 2xx body, as they arrive (borrowed for the call).
	 * Return 0 to go on, non-zero to end the transfer (done then reports
	 * MDNS_ECURL, "stopped by its reader").  Must not call into the fetcher.
	 */
	int (*data)(void *ctx, const char *buf, size_t len);
	/*
	 * The transfer ended, exactly once, and nothing follows: rc 0 when the
	 * server closed a 2xx stream, MDNS_EHTTP for a non-2xx status (the
	 * body's first line is in err), MDNS_ECURL / MDNS_ETIMEDOUT for
	 * connection errors.  r->body is always NULL.
	 */
	void (*done)(void *ctx, struct fetch_result *r);
};

/*
 * POST body (a JSON text, copied) to http(s)://hostport<path> with
 * Content-Type and Accept application/json and hand the response body to
 * ops->data as it arrives, for as long as the server keeps it open: a
 * streamed response such as the Mesos operator API's SUBSCRIBE.  The
 * connection (TCP and TLS) is timed as for fetch_state (10 s), the transfer
 * itself is not: the caller watches for silence.  TCP keepalive is on.  TLS,
 * basic and IAM authentication (a 401 to a token logs in again once) and
 * redirects (a 307 from a non-leading master keeps the POST) are as for
 * fetch_state.  ops (borrowed) must outlive the transfer; cancel with
 * fetcher_cancel_ctx(f, ctx).  Returns 0, or MDNS_EINVAL / MDNS_ENOMEM /
 * MDNS_ECURL when it could not start (then no callback runs).
 */
int fetch_stream(struct fetcher *f, const char *hostport, const char *path, const char *body,
		 const struct fetch_stream_ops *ops, void *ctx);
