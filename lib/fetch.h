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
