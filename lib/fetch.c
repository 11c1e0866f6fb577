/* lib/fetch.c -- fetch a master's state over HTTP(S) with libcurl multi on libevent. */
#include "lib/fetch.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/iam.h"
#include "lib/log.h"

#ifndef MESOSDNSD_VERSION
#define MESOSDNSD_VERSION "unknown"
#endif

#define FETCH_DEFAULT_TIMEOUT_S	300	/* stateTimeoutSeconds default (behaviour.md §1.1) */
#define FETCH_MAX_REDIRS	5L
#define FETCH_CONNECT_TIMEOUT_MS 10000L	/* TCP + TLS handshake with one master */
#define FETCH_MAX_MEMOS		64	/* hostports whose path we remember */
#define FETCH_BUF_INITIAL	(64u * 1024)
#define FETCH_HOSTPORT_MAX	300
#define FETCH_PATH_MAX		200	/* fetch_get / fetch_stream paths */
#define FETCH_ERRBODY_MAX	(64u * 1024)	/* a stream's error body, kept for the message */
#define FETCH_KEEPIDLE_S	30L	/* TCP keepalive of streams: first probe after 30 s idle */
#define FETCH_KEEPINTVL_S	10L

#define FETCH_IAM_DEFAULT_LIFE	3600	/* an opaque token is assumed to last an hour */
#define FETCH_IAM_JWT_LIFE	3600	/* exp of the JWT we sign for the login */
#define FETCH_IAM_MARGIN_MAX	300	/* log in again at most 5 min before exp */

enum { FETCH_PATH_STATE = 0, FETCH_PATH_STATE_JSON = 1 };
static const char *const fetch_paths[] = { "/master/state", "/master/state.json" };

/* One fetch in flight: one easy handle, reused for the /master/state.json retry. */
struct fetch_job {
	struct fetcher *f;
	CURL *easy;
	char *hostport;			/* owned */
	int path;			/* index into fetch_paths */
	bool https;
	bool fell_back;			/* already switched path once after a 404 */
	bool too_big;			/* the write callback hit max */
	bool oom;			/* the write callback could not grow buf */
	bool login;			/* an IAM login, not a state fetch (f->login) */
	bool stream;			/* fetch_stream: body handed to sops->data as it comes */
	bool opened;			/* stream: a 2xx head arrived and sops->open ran */
	bool aborted;			/* stream: sops->data asked to stop */
	const struct fetch_stream_ops *sops;	/* stream callbacks (borrowed) */
	char *custom_path;		/* fetch_get / fetch_stream path (owned); NULL: fetch_paths */
	bool waiting_token;		/* IAM: queued until a login ends */
	bool auth_retried;		/* IAM: already logged in again after a 401 */
	char *token;			/* IAM: the token this fetch sent (owned) */
	unsigned gen;			/* IAM login: f->iam_gen when it started */
	char *post;			/* login: the request body (owned) */
	struct curl_slist *headers;	/* extra request headers (owned) */
	long timeout_ms;		/* whole fetch, retry included */
	struct timespec start;		/* CLOCK_MONOTONIC */
	char *buf;			/* body so far, NUL-terminated when non-NULL */
	size_t len, cap, max;
	char url[sizeof(((struct fetch_result *)0)->url)];
	char errbuf[CURL_ERROR_SIZE];
	void (*done)(void *ctx, struct fetch_result *r);
	void *ctx;
	struct fetch_job *prev, *next;
};

/* The libevent event watching one socket curl told us about. */
struct fetch_sock {
	struct event *ev;
	struct fetch_sock *prev, *next;
};

/* A hostport that answered on /master/state.json (the default needs no entry). */
struct fetch_memo {
	char *hostport;
	struct fetch_memo *next;
};

struct fetcher {
	struct event_base *base;
	const struct config *cfg;
	CURLM *multi;
	struct event *timer;		/* curl's single timeout */
	struct fetch_job *jobs;
	size_t njobs;
	struct fetch_sock *socks;
	struct fetch_memo *memos;	/* most recently confirmed first */
	size_t max_bytes;
	int dispatching;		/* > 0 while done callbacks run */
	bool free_pending;		/* fetcher_free was called from a callback */
	bool warned_no_ca;		/* the MesosHTTPSOn-without-CACertFile warning was logged */

	/* DC/OS IAM (mesosAuthentication "iam") */
	char *iam_token;		/* token of the last login, NULL = none */
	unsigned iam_gen;		/* config generation: a reload makes a new one */
	time_t iam_use_until;		/* log in again from then on */
	struct fetch_job *login;	/* login in flight */
	struct event *iam_defer;	/* reports a login that could not start */
	int iam_defer_rc;
	char iam_defer_err[256];
	uint64_t iam_logins;		/* logins attempted */
};

/* ---- libcurl global state ---------------------------------------------- */

static pthread_once_t fetch_curl_once = PTHREAD_ONCE_INIT;
static CURLcode fetch_curl_rc = CURLE_FAILED_INIT;

static void fetch_curl_init(void)
{
	fetch_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- helpers --------------------------------------------------------------- */

static bool fetch_nonempty(const char *s)
{
	return s && *s;
}

/*
 * Accept "host:port", "[v6]:port" and plain hosts; reject anything that could
 * change the URL's meaning ('/', '@', '?', '#', spaces, ...).
 */
static bool fetch_hostport_valid(const char *hp)
{
	size_t n = strlen(hp);

	if (n == 0 || n > FETCH_HOSTPORT_MAX)
		return false;
	for (const char *p = hp; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr(".-_:[]%", c)))
			return false;
	}
	return true;
}

static long fetch_elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - since->tv_sec) * 1000 +
	       (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* First line of an error body, printable ASCII only, for the error message. */
static void fetch_snippet(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; buf && i < len && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\n' || c == '\r') {
			if (o)
				break;
			continue;
		}
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
}

/* Write r->err; a long URL may cut the message, which is fine for one log line. */
static void fetch_err(struct fetch_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fetch_err(struct fetch_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mdns_vset_err(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

/* ---- remembered paths --------------------------------------------------- */

static struct fetch_memo **fetch_memo_find(struct fetcher *f, const char *hostport)
{
	struct fetch_memo **pp;

	for (pp = &f->memos; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->hostport, hostport) == 0)
			return pp;
	return NULL;
}

static void fetch_memo_drop(struct fetch_memo **pp)
{
	struct fetch_memo *m = *pp;

	*pp = m->next;
	free(m->hostport);
	free(m);
}

/* Remember that hostport answered on path; keeps at most FETCH_MAX_MEMOS entries. */
static void fetch_memo_set(struct fetcher *f, const char *hostport, int path)
{
	struct fetch_memo **pp = fetch_memo_find(f, hostport);
	struct fetch_memo *m;
	size_t n;

	if (pp)
		fetch_memo_drop(pp);
	if (path == FETCH_PATH_STATE)
		return;
	m = malloc(sizeof(*m));
	if (!m)
		return;
	m->hostport = strdup(hostport);
	if (!m->hostport) {
		free(m);
		return;
	}
	m->next = f->memos;
	f->memos = m;
	/* Masters come and go; forget the least recently confirmed beyond the cap. */
	for (n = 1, pp = &f->memos->next; *pp; n++) {
		if (n >= FETCH_MAX_MEMOS)
			fetch_memo_drop(pp);
		else
			pp = &(*pp)->next;
	}
}

static int fetch_memo_path(const struct fetcher *f, const char *hostport)
{
	for (const struct fetch_memo *m = f->memos; m; m = m->next)
		if (strcmp(m->hostport, hostport) == 0)
			return FETCH_PATH_STATE_JSON;
	return FETCH_PATH_STATE;
}

/* ---- jobs ------------------------------------------------------------------ */

static void fetch_job_unlink(struct fetch_job *job)
{
	struct fetcher *f = job->f;

	if (job->prev)
		job->prev->next = job->next;
	else
		f->jobs = job->next;
	if (job->next)
		job->next->prev = job->prev;
	job->prev = job->next = NULL;
	f->njobs--;
}

static void fetch_job_free(struct fetch_job *job)
{
	if (job->easy)
		curl_easy_cleanup(job->easy);
	curl_slist_free_all(job->headers);
	free(job->buf);
	free(job->hostport);
	free(job->token);
	free(job->post);
	free(job->custom_path);
	free(job);
}

/* Link job at the head of f->jobs (fetches whose callback is still due). */
static void fetch_job_link(struct fetcher *f, struct fetch_job *job)
{
	job->prev = NULL;
	job->next = f->jobs;
	if (f->jobs)
		f->jobs->prev = job;
	f->jobs = job;
	f->njobs++;
}

static bool fetch_iam_on(const struct config *cfg)
{
	return cfg && cfg->mesos_authentication &&
	       strcmp(cfg->mesos_authentication, "iam") == 0;
}

static size_t fetch_on_data(char *data, size_t size, size_t nmemb, void *userp)
{
	struct fetch_job *job = userp;
	size_t n = size * nmemb;

	if (job->stream && !job->opened) {
		long status = 0;
		char *url = NULL;

		/* The head is complete once the body starts (redirect bodies never get here). */
		curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			job->opened = true;
			curl_easy_getinfo(job->easy, CURLINFO_EFFECTIVE_URL, &url);
			job->sops->open(job->ctx, status, url ? url : job->url);
		}
	}
	if (job->opened) {
		if (job->sops->data(job->ctx, data, n) != 0) {
			job->aborted = true;
			return 0;	/* curl ends the transfer with CURLE_WRITE_ERROR */
		}
		return n;
	}
	if (n > job->max - job->len) {
		job->too_big = true;
		return 0;	/* != n: curl aborts with CURLE_WRITE_ERROR */
	}
	if (job->len + n + 1 > job->cap) {
		size_t cap = job->cap ? job->cap : FETCH_BUF_INITIAL;
		char *p;

		while (cap < job->len + n + 1)
			cap *= 2;
		if (cap > job->max + 1)
			cap = job->max + 1;
		p = realloc(job->buf, cap);
		if (!p) {
			job->oom = true;
			return 0;
		}
		job->buf = p;
		job->cap = cap;
	}
	memcpy(job->buf + job->len, data, n);
	job->len += n;
	job->buf[job->len] = '\0';
	return n;
}

#define FETCH_SETOPT(easy, opt, val) do { \
	if (curl_easy_setopt((easy), (opt), (val)) != CURLE_OK) \
		return MDNS_ECURL; \
} while (0)

/* Options that stay the same for the whole fetch, from the config of the moment. */
static int fetch_job_setup(struct fetch_job *job, const struct config *cfg)
{
	CURL *e = job->easy;
	long secs = cfg && cfg->state_timeout_seconds > 0 ?
		    cfg->state_timeout_seconds : FETCH_DEFAULT_TIMEOUT_S;

	job->timeout_ms = secs * 1000;
	FETCH_SETOPT(e, CURLOPT_PRIVATE, (void *)job);
	FETCH_SETOPT(e, CURLOPT_ERRORBUFFER, job->errbuf);
	FETCH_SETOPT(e, CURLOPT_WRITEFUNCTION, fetch_on_data);
	FETCH_SETOPT(e, CURLOPT_WRITEDATA, (void *)job);
	FETCH_SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	/*
	 * A master whose host is gone eats no more than this of the cycle: the
	 * next master is tried.  Includes the TLS handshake.
	 */
	FETCH_SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS,
		     job->timeout_ms < FETCH_CONNECT_TIMEOUT_MS ? job->timeout_ms :
		     FETCH_CONNECT_TIMEOUT_MS);
	FETCH_SETOPT(e, CURLOPT_USERAGENT, "mesos-dnsd/" MESOSDNSD_VERSION);
	FETCH_SETOPT(e, CURLOPT_ACCEPT_ENCODING, "");	/* every decoder curl has: gzip, deflate... */
	/*
	 * Non-leading masters may answer 307 to the leader, as Go's client (and
	 * so mesos-dns) follows.  Credentials are not sent to another host.
	 */
	FETCH_SETOPT(e, CURLOPT_FOLLOWLOCATION, 1L);
	FETCH_SETOPT(e, CURLOPT_MAXREDIRS, FETCH_MAX_REDIRS);
	job->https = cfg && cfg->mesos_https_on;
	/* With MesosHTTPSOn a redirect must not downgrade us to plain HTTP. */
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85.0 */
	FETCH_SETOPT(e, CURLOPT_PROTOCOLS_STR, job->https ? "https" : "http,https");
	FETCH_SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, job->https ? "https" : "http,https");
#else
	FETCH_SETOPT(e, CURLOPT_PROTOCOLS, job->https ? (long)CURLPROTO_HTTPS :
		     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	FETCH_SETOPT(e, CURLOPT_REDIR_PROTOCOLS, job->https ? (long)CURLPROTO_HTTPS :
		     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/*
	 * Stops early when Content-Length announces too much.  The write callback
	 * enforces the limit on the decoded body in every case.
	 */
	if (!job->stream)
		FETCH_SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)job->max);
	else {
		/* A stream may stay silent between heartbeats: let TCP notice a dead peer. */
		FETCH_SETOPT(e, CURLOPT_TCP_KEEPALIVE, 1L);
		FETCH_SETOPT(e, CURLOPT_TCP_KEEPIDLE, FETCH_KEEPIDLE_S);
		FETCH_SETOPT(e, CURLOPT_TCP_KEEPINTVL, FETCH_KEEPINTVL_S);
	}
	if (job->https) {
		/* Without CACertFile, curl verifies against the system CA store.
		 * With it, against that file alone: Debian's libcurl also reads
		 * /etc/ssl/certs (its CA path) unless told not to, and any
		 * certificate a public CA signed would pass (mesos-dns trusts
		 * the file's CAs only). */
		if (fetch_nonempty(cfg->ca_cert_file)) {
			FETCH_SETOPT(e, CURLOPT_CAINFO, cfg->ca_cert_file);
			FETCH_SETOPT(e, CURLOPT_CAPATH, (char *)NULL);
		} else if (!job->f->warned_no_ca) {
			job->f->warned_no_ca = true;
			log_warn("fetch: MesosHTTPSOn without CACertFile: the masters' certificates "
				 "are checked against the system CA store only, which a cluster's own "
				 "CA is rarely in; set CACertFile to the cluster CA certificate");
		}
		if (fetch_nonempty(cfg->cert_file))
			FETCH_SETOPT(e, CURLOPT_SSLCERT, cfg->cert_file);
		if (fetch_nonempty(cfg->key_file))
			FETCH_SETOPT(e, CURLOPT_SSLKEY, cfg->key_file);
	}
	/* "iam" adds its token header when the fetch starts (fetch_job_start). */
	if (cfg && cfg->mesos_authentication &&
	    strcmp(cfg->mesos_authentication, "basic") == 0) {
		FETCH_SETOPT(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		FETCH_SETOPT(e, CURLOPT_USERNAME,
			     cfg->mesos_principal ? cfg->mesos_principal : "");
		FETCH_SETOPT(e, CURLOPT_PASSWORD,
			     cfg->mesos_secret ? cfg->mesos_secret : "");
	}
	return 0;
}

/* job->url from the hostport and job->path. */
static int fetch_job_url(struct fetch_job *job)
{
	int n = snprintf(job->url, sizeof(job->url), "%s://%s%s",
			 job->https ? "https" : "http", job->hostport,
			 job->custom_path ? job->custom_path : fetch_paths[job->path]);

	return n < 0 || (size_t)n >= sizeof(job->url) ? MDNS_EINVAL : 0;
}

/* (Re)start the transfer for job->path within what is left of the timeout. */
static int fetch_job_start(struct fetch_job *job)
{
	long left = job->timeout_ms - fetch_elapsed_ms(&job->start);

	if (fetch_job_url(job) != 0)
		return MDNS_EINVAL;
	job->len = 0;
	if (job->buf)
		job->buf[0] = '\0';
	job->too_big = job->oom = false;
	job->opened = job->aborted = false;
	job->errbuf[0] = '\0';
	if (job->token || job->stream) {
		struct curl_slist *l = NULL;

		if (job->stream) {
			/* The operator API: a JSON call, JSON RecordIO events back. */
			l = curl_slist_append(l, "Content-Type: application/json");
			l = l ? curl_slist_append(l, "Accept: application/json") : NULL;
			l = l ? curl_slist_append(l, "Expect:") : NULL;
			if (!l)
				return MDNS_ENOMEM;
		}
		if (job->token) {
			/* DC/OS IAM: "Authorization: token=<token>" with the current token. */
			size_t hl = strlen(job->token) + 32;
			char *h = malloc(hl);
			struct curl_slist *l2;

			if (!h) {
				curl_slist_free_all(l);
				return MDNS_ENOMEM;
			}
			snprintf(h, hl, "Authorization: token=%s", job->token);
			l2 = curl_slist_append(l, h);
			free(h);
			if (!l2) {
				curl_slist_free_all(l);
				return MDNS_ENOMEM;
			}
			l = l2;
		}
		curl_slist_free_all(job->headers);
		job->headers = l;
		FETCH_SETOPT(job->easy, CURLOPT_HTTPHEADER, job->headers);
	}
	FETCH_SETOPT(job->easy, CURLOPT_URL, job->url);
	/* A stream has no end: only its connection is timed (and its silence, by the caller). */
	FETCH_SETOPT(job->easy, CURLOPT_TIMEOUT_MS, job->stream ? 0L : left > 0 ? left : 1L);
	if (curl_multi_add_handle(job->f->multi, job->easy) != CURLM_OK)
		return MDNS_ECURL;
	log_debug("fetch: %s %s", job->stream ? "POST" : "GET", job->url);
	return 0;
}

/* ---- DC/OS IAM ------------------------------------------------------------------- */

static void fetcher_destroy(struct fetcher *f);

/*
 * A fetch needing a token waits (waiting_token, still in f->jobs) while one
 * login runs on the same multi handle; its end starts or fails every waiting
 * fetch.  The token is reused until shortly before its exp, and a 401 to a
 * token sends that fetch back to wait for a new login once.
 */

static bool fetch_iam_token_ok(const struct fetcher *f)
{
	return f->iam_token && time(NULL) < f->iam_use_until;
}

/* Deliver a failure for a job that is no longer linked; the job is freed. */
static void fetch_job_fail(struct fetch_job *job, int rc, const char *msg)
{
	void (*done)(void *, struct fetch_result *) = job->done;
	void *ctx = job->ctx;
	struct fetch_result r;

	memset(&r, 0, sizeof(r));
	r.rc = rc;
	memcpy(r.url, job->url, sizeof(r.url));
	fetch_err(&r, "%s: %s", r.url, msg);
	log_debug("fetch: %s", r.err);
	fetch_job_free(job);
	done(ctx, &r);
}

/* After a login: start (rc 0) or fail every waiting fetch.  Callbacks may run. */
static void fetch_iam_release(struct fetcher *f, int rc, const char *msg)
{
	struct fetch_job *list = NULL, *job, *next;

	/* Take them out first: a callback may queue new fetches for a new login. */
	for (job = f->jobs; job; job = next) {
		next = job->next;
		if (!job->waiting_token)
			continue;
		fetch_job_unlink(job);
		job->next = list;
		list = job;
	}
	while ((job = list) != NULL) {
		list = job->next;
		job->next = NULL;
		job->waiting_token = false;
		if (f->free_pending) {
			fetch_job_free(job);
			continue;
		}
		if (rc != 0) {
			fetch_job_fail(job, rc, msg);
			continue;
		}
		free(job->token);
		job->token = strdup(f->iam_token);
		fetch_job_link(f, job);
		int src = job->token ? fetch_job_start(job) : MDNS_ENOMEM;
		if (src != 0) {
			fetch_job_unlink(job);
			fetch_job_fail(job, src, "could not start the fetch after the IAM login");
		}
	}
}

static void fetch_iam_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;

	(void)fd;
	(void)what;
	f->dispatching++;
	fetch_iam_release(f, f->iam_defer_rc, f->iam_defer_err);
	f->dispatching--;
	if (f->free_pending && f->dispatching == 0)
		fetcher_destroy(f);
}

/* POST body (taken over) to endpoint on the multi handle. */
static int fetch_login_start(struct fetcher *f, const char *endpoint, char *body,
			     char *err, size_t errlen)
{
	const struct config *cfg = f->cfg;
	struct fetch_job *job = calloc(1, sizeof(*job));
	CURL *e;
	long secs = cfg && cfg->state_timeout_seconds > 0 ?
		    cfg->state_timeout_seconds : FETCH_DEFAULT_TIMEOUT_S;

	if (!job) {
		free(body);
		snprintf(err, errlen, "out of memory");
		return MDNS_ENOMEM;
	}
	job->f = f;
	job->login = true;
	job->gen = f->iam_gen;
	job->post = body;
	job->max = 1024 * 1024;
	snprintf(job->url, sizeof(job->url), "%s", endpoint);
	clock_gettime(CLOCK_MONOTONIC, &job->start);
	job->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip for a body of a few hundred bytes. */
	struct curl_slist *more = job->headers ? curl_slist_append(job->headers, "Expect:") : NULL;
	e = job->easy = curl_easy_init();
	if (!e || !more ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)job) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job->errbuf) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch_on_data) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)job) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "mesos-dnsd/" MESOSDNSD_VERSION) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_URL, endpoint) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, job->post) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, job->headers) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, secs * 1000) != CURLE_OK ||
	    /* A login host that vanished must not hold every master's
	     * attempt for the whole stateTimeoutSeconds (as a fetch). */
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			     secs * 1000 < FETCH_CONNECT_TIMEOUT_MS ? secs * 1000 :
			     FETCH_CONNECT_TIMEOUT_MS) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85.0 */
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
#else
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS,
			     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
#endif
	    (fetch_nonempty(cfg->ca_cert_file) &&
	     (curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_cert_file) != CURLE_OK ||
	      curl_easy_setopt(e, CURLOPT_CAPATH, (char *)NULL) != CURLE_OK)) ||
	    curl_multi_add_handle(f->multi, e) != CURLM_OK) {
		fetch_job_free(job);
		snprintf(err, errlen, "could not start the request to %s", endpoint);
		return MDNS_ECURL;
	}
	f->login = job;
	f->iam_logins++;
	log_debug("fetch: POST %s (IAM login)", endpoint);
	return 0;
}

/* Log in unless a login is under way; one that cannot start fails the waiting fetches later. */
static void fetch_iam_login(struct fetcher *f)
{
	struct iam_account acct;
	char why[256] = "", *jwt = NULL, *body = NULL;
	int rc;

	if (f->login || evtimer_pending(f->iam_defer, NULL))
		return;
	/* Read the account each time: a rotated key is picked up without a restart. */
	rc = iam_account_load(f->cfg->iam_config_file, &acct, why, sizeof(why));
	if (rc == 0)
		rc = iam_jwt_rs256(acct.uid, (long long)time(NULL) + FETCH_IAM_JWT_LIFE,
				   acct.private_key, &jwt, why, sizeof(why));
	if (rc == 0 && !(body = iam_login_body(acct.uid, jwt))) {
		rc = MDNS_ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
	}
	if (rc == 0)
		rc = fetch_login_start(f, acct.login_endpoint, body, why, sizeof(why));
	free(jwt);
	iam_account_clear(&acct);
	if (rc != 0) {
		struct timeval now = { 0, 0 };
		f->iam_defer_rc = rc;
		snprintf(f->iam_defer_err, sizeof(f->iam_defer_err), "IAM login: %.240s", why);
		evtimer_add(f->iam_defer, &now);
	}
}

/* A login ended: keep its token and release the waiting fetches. */
static void fetch_login_finish(struct fetch_job *job, CURLcode cc)
{
	struct fetcher *f = job->f;
	long status = 0;
	char msg[384], snip[96], why[160];
	char *token = NULL;
	int rc = 0;

	f->login = NULL;
	if (job->gen != f->iam_gen) {
		/* Started with the configuration before a reload (another
		 * account, perhaps): its token is not ours to use.  The fetches
		 * waiting wait for a login with the new one. */
		log_debug("fetch: an IAM login from before the reload ended; logging in again");
		fetch_job_free(job);
		if (fetch_iam_on(f->cfg))
			fetch_iam_login(f);
		else
			fetch_iam_release(f, MDNS_EINVAL, "IAM login: switched off by a reload");
		return;
	}
	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		rc = cc == CURLE_OPERATION_TIMEDOUT ? MDNS_ETIMEDOUT : MDNS_ECURL;
		snprintf(msg, sizeof(msg), "IAM login at %.120s failed: %.200s", job->url,
			 job->errbuf[0] ? job->errbuf : curl_easy_strerror(cc));
	} else if (status != 200) {
		rc = MDNS_EHTTP;
		fetch_snippet(job->buf, job->len, snip, sizeof(snip));
		snprintf(msg, sizeof(msg), "IAM login at %.120s failed: HTTP %ld%s%s", job->url, status,
			 snip[0] ? ": " : "", snip);
	} else if (iam_login_reply(job->buf ? job->buf : "", job->len, &token, why,
				   sizeof(why)) != 0) {
		rc = MDNS_EPARSE;
		snprintf(msg, sizeof(msg), "IAM login at %.120s: %s", job->url, why);
	}
	if (rc == 0) {
		time_t now = time(NULL);
		long long exp = iam_token_exp(token);
		long long life = exp > 0 ? exp - (long long)now : FETCH_IAM_DEFAULT_LIFE;
		long long margin = life / 10;

		if (exp <= 0)
			exp = (long long)now + FETCH_IAM_DEFAULT_LIFE;
		if (margin > FETCH_IAM_MARGIN_MAX)
			margin = FETCH_IAM_MARGIN_MAX;
		if (margin < 1)
			margin = 1;
		free(f->iam_token);
		f->iam_token = token;
		f->iam_use_until = (time_t)(exp - margin);
		log_info("fetch: IAM login at %s succeeded; token reused for %lld s", job->url,
			 exp - margin - (long long)now > 0 ? exp - margin - (long long)now : 0);
	} else {
		log_debug("fetch: %s", msg);
	}
	fetch_job_free(job);
	fetch_iam_release(f, rc, msg);
}

/* Turn the end of a transfer into a result, or retry on the other path after a 404. */
static void fetch_job_finish(struct fetch_job *job, CURLcode cc)
{
	struct fetcher *f = job->f;
	struct fetch_result r;
	void (*done)(void *, struct fetch_result *) = job->done;
	void *ctx = job->ctx;
	long status = 0;
	char snip[96];

	if (job->login) {
		fetch_login_finish(job, cc);
		return;
	}
	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OK && status == 401 && job->token && !job->auth_retried &&
	    fetch_iam_on(f->cfg)) {
		/* The token was revoked or expired early: log in again, once per fetch. */
		job->auth_retried = true;
		if (f->iam_token && strcmp(f->iam_token, job->token) == 0) {
			free(f->iam_token);
			f->iam_token = NULL;
		}
		log_info("fetch: %s refused the IAM token (401); logging in again", job->url);
		job->waiting_token = true;
		if (fetch_iam_token_ok(f))
			fetch_iam_release(f, 0, NULL);
		else
			fetch_iam_login(f);
		return;
	}
	if (cc == CURLE_OK && status == 404 && !job->fell_back && !job->custom_path) {
		const char *url404 = job->url;
		int rc;

		job->fell_back = true;
		job->path = job->path == FETCH_PATH_STATE ?
			    FETCH_PATH_STATE_JSON : FETCH_PATH_STATE;
		log_info("fetch: %s answered 404, trying %s", url404,
			 fetch_paths[job->path]);
		rc = fetch_job_start(job);
		if (rc == 0)
			return;
		cc = CURLE_FAILED_INIT;
		snprintf(job->errbuf, sizeof(job->errbuf),
			 "could not start the retry: %s", mdns_strerror(rc));
	}

	memset(&r, 0, sizeof(r));
	r.http_status = status;
	memcpy(r.url, job->url, sizeof(r.url));
	if (job->stream && (job->opened || (cc == CURLE_OK && status >= 200 && status < 300))) {
		/* The body went to sops->data; say only how the stream ended.  A server
		 * that stops sending closes the connection mid-body (a partial file to
		 * curl): for a stream that is its end, not an error. */
		if (cc == CURLE_PARTIAL_FILE && !job->aborted)
			cc = CURLE_OK;
		if (job->aborted) {
			r.rc = MDNS_ECURL;
			fetch_err(&r, "%s: stream stopped by its reader", r.url);
		} else if (cc != CURLE_OK) {
			r.rc = cc == CURLE_OPERATION_TIMEDOUT ? MDNS_ETIMEDOUT : MDNS_ECURL;
			fetch_err(&r, "%s: %s", r.url,
				  job->errbuf[0] ? job->errbuf : curl_easy_strerror(cc));
		}
	} else if (cc == CURLE_OK && status >= 200 && status < 300) {
		r.body = job->buf;
		r.len = job->len;
		job->buf = NULL;
		if (!r.body)
			r.body = calloc(1, 1);
		else if (job->cap > r.len + 1) {
			char *p = realloc(r.body, r.len + 1);	/* give back the slack */
			if (p)
				r.body = p;
		}
		if (!r.body) {
			r.rc = MDNS_ENOMEM;
			fetch_err(&r, "%s: out of memory", r.url);
		} else {
			if (!job->custom_path)
				fetch_memo_set(f, job->hostport, job->path);
			log_debug("fetch: %s: %zu bytes", r.url, r.len);
		}
	} else if (cc == CURLE_OK) {
		r.rc = MDNS_EHTTP;
		fetch_snippet(job->buf, job->len, snip, sizeof(snip));
		fetch_err(&r, "HTTP %ld from %s%s%s", status,
			 r.url, snip[0] ? ": " : "", snip);
	} else if (job->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		r.rc = MDNS_ETOOBIG;
		fetch_err(&r, "%s: state larger than %zu bytes",
			 r.url, job->max);
	} else if (job->oom) {
		r.rc = MDNS_ENOMEM;
		fetch_err(&r, "%s: out of memory", r.url);
	} else {
		r.rc = cc == CURLE_OPERATION_TIMEDOUT ? MDNS_ETIMEDOUT : MDNS_ECURL;
		fetch_err(&r, "%s: %s", r.url,
			 job->errbuf[0] ? job->errbuf : curl_easy_strerror(cc));
	}
	if (r.rc)
		log_debug("fetch: %s", r.err);

	fetch_job_unlink(job);
	fetch_job_free(job);
	done(ctx, &r);
}

/* ---- the event loop side ------------------------------------------------------ */

static void fetcher_destroy(struct fetcher *f);

/* Hand finished transfers to their callbacks; may free f (fetcher_free from a callback). */
static void fetch_collect(struct fetcher *f)
{
	CURLMsg *msg;
	int left;

	f->dispatching++;
	while (!f->free_pending && (msg = curl_multi_info_read(f->multi, &left))) {
		CURL *easy = msg->easy_handle;
		CURLcode cc = msg->data.result;
		char *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg is invalid once the handle is removed: copy first. */
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		curl_multi_remove_handle(f->multi, easy);
		fetch_job_finish((struct fetch_job *)(void *)priv, cc);
	}
	f->dispatching--;
	if (f->free_pending && f->dispatching == 0)
		fetcher_destroy(f);
}

static void fetch_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;
	int action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	/* This may free the event being served (CURL_POLL_REMOVE); touch it no more. */
	curl_multi_socket_action(f->multi, fd, action, &running);
	fetch_collect(f);
}

static void fetch_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	fetch_collect(f);
}

static void fetch_sock_free(struct fetcher *f, struct fetch_sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		f->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	event_free(s->ev);
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: keep one persistent event per socket in step with curl. */
static int fetch_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
			   void *socketp)
{
	struct fetcher *f = userp;
	struct fetch_sock *s = socketp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s)
			fetch_sock_free(f, s);
		return 0;
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->ev = event_new(f->base, fd, kind, fetch_on_io, f);
		if (!s->ev) {
			free(s);
			return -1;
		}
		s->next = f->socks;
		if (f->socks)
			f->socks->prev = s;
		f->socks = s;
		curl_multi_assign(f->multi, fd, s);
	} else {
		event_del(s->ev);
		event_assign(s->ev, f->base, fd, kind, fetch_on_io, f);
	}
	return event_add(s->ev, NULL) < 0 ? -1 : 0;
}

/*
 * CURLMOPT_TIMERFUNCTION: curl wants one timeout.  Even 0 goes through the
 * loop: curl must not be re-entered from its own callback.
 */
static int fetch_on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct fetcher *f = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0)
		return evtimer_del(f->timer) < 0 ? -1 : 0;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(f->timer, &tv) < 0 ? -1 : 0;
}

/* ---- public API ---------------------------------------------------------------- */

struct fetcher *fetcher_new(struct event_base *base, const struct config *cfg)
{
	struct fetcher *f;

	if (!base)
		return NULL;
	if (pthread_once(&fetch_curl_once, fetch_curl_init) != 0 ||
	    fetch_curl_rc != CURLE_OK) {
		log_err("fetch: curl_global_init failed");
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->base = base;
	f->cfg = cfg;
	f->max_bytes = FETCH_MAX_BYTES;
	f->multi = curl_multi_init();
	f->timer = evtimer_new(base, fetch_on_timeout, f);
	f->iam_defer = evtimer_new(base, fetch_iam_defer_cb, f);
	if (!f->multi || !f->timer || !f->iam_defer ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, fetch_on_socket) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, (void *)f) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, fetch_on_timer) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, (void *)f) != CURLM_OK) {
		fetcher_destroy(f);
		return NULL;
	}
	return f;
}

static void fetcher_destroy(struct fetcher *f)
{
	while (f->jobs) {
		struct fetch_job *job = f->jobs;

		if (f->multi)
			curl_multi_remove_handle(f->multi, job->easy);
		fetch_job_unlink(job);
		fetch_job_free(job);
	}
	if (f->login) {
		curl_multi_remove_handle(f->multi, f->login->easy);
		fetch_job_free(f->login);
		f->login = NULL;
	}
	if (f->iam_defer)
		event_free(f->iam_defer);
	free(f->iam_token);
	/* Closing cached connections calls fetch_on_socket(REMOVE), which needs f. */
	if (f->multi)
		curl_multi_cleanup(f->multi);
	while (f->socks)
		fetch_sock_free(f, f->socks);
	if (f->timer)
		event_free(f->timer);
	while (f->memos)
		fetch_memo_drop(&f->memos);
	free(f);
}

void fetcher_free(struct fetcher *f)
{
	if (!f)
		return;
	if (f->dispatching) {
		/* Inside a done callback: fetch_collect frees f when it returns. */
		f->free_pending = true;
		return;
	}
	fetcher_destroy(f);
}

void fetcher_cancel_all(struct fetcher *f)
{
	if (!f)
		return;
	while (f->jobs) {
		struct fetch_job *job = f->jobs;

		if (!job->waiting_token)
			curl_multi_remove_handle(f->multi, job->easy);
		fetch_job_unlink(job);
		fetch_job_free(job);
	}
}

void fetcher_cancel_ctx(struct fetcher *f, void *ctx)
{
	struct fetch_job *job, *next;

	if (!f)
		return;
	for (job = f->jobs; job; job = next) {
		next = job->next;
		if (job->ctx != ctx)
			continue;
		if (!job->waiting_token)
			curl_multi_remove_handle(f->multi, job->easy);
		fetch_job_unlink(job);
		fetch_job_free(job);
	}
}

void fetcher_set_config(struct fetcher *f, const struct config *cfg)
{
	const struct config *old = f->cfg;

	f->cfg = cfg;
	/* A reload that names another IAM account file (or turns IAM on or
	 * off): the next fetch logs in again, rather than going on as the
	 * old account until its token expires (days). */
	if (!old || !cfg || fetch_iam_on(old) != fetch_iam_on(cfg) ||
	    strcmp(old->iam_config_file ? old->iam_config_file : "",
		   cfg->iam_config_file ? cfg->iam_config_file : "") != 0) {
		free(f->iam_token);
		f->iam_token = NULL;
		f->iam_gen++;
	}
}

void fetcher_set_max_bytes(struct fetcher *f, size_t max)
{
	/* Keep len + n + 1 and the buffer doubling far from overflow. */
	if (max > SIZE_MAX / 4)
		max = SIZE_MAX / 4;
	f->max_bytes = max;
}

size_t fetcher_pending(const struct fetcher *f)
{
	return f ? f->njobs : 0;
}

unsigned long long fetcher_iam_logins(const struct fetcher *f)
{
	return f ? (unsigned long long)f->iam_logins : 0;
}

const char *fetcher_path_for(const struct fetcher *f, const char *hostport)
{
	return fetch_paths[f && hostport ? fetch_memo_path(f, hostport) : FETCH_PATH_STATE];
}

/* Is path a plain absolute path (no query, no fragment, nothing to escape)? */
static bool fetch_path_valid(const char *path)
{
	size_t n = strlen(path);

	if (n == 0 || n > FETCH_PATH_MAX || path[0] != '/')
		return false;
	for (const char *p = path; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("/-_.", c)))
			return false;
	}
	return true;
}

/*
 * Start one request: a state fetch (path NULL), a GET of path, or a stream
 * (sops set: POST post to path).  done is the completion callback.
 */
static int fetch_submit(struct fetcher *f, const char *hostport, const char *path,
			const struct fetch_stream_ops *sops, const char *post,
			void (*done)(void *ctx, struct fetch_result *r), void *ctx)
{
	struct fetch_job *job;
	int rc;

	if (!f || !hostport || !done || f->free_pending)
		return MDNS_EINVAL;
	if (!fetch_hostport_valid(hostport)) {
		log_debug("fetch: refusing malformed master address '%.64s'", hostport);
		return MDNS_EINVAL;
	}
	if (path && !fetch_path_valid(path))
		return MDNS_EINVAL;
	job = calloc(1, sizeof(*job));
	if (!job)
		return MDNS_ENOMEM;
	job->f = f;
	job->done = done;
	job->ctx = ctx;
	job->stream = sops != NULL;
	job->sops = sops;
	job->max = sops ? FETCH_ERRBODY_MAX : f->max_bytes;
	job->path = path ? FETCH_PATH_STATE : fetch_memo_path(f, hostport);
	job->hostport = strdup(hostport);
	job->custom_path = path ? strdup(path) : NULL;
	job->post = post ? strdup(post) : NULL;
	job->easy = curl_easy_init();
	if (!job->hostport || !job->easy || (path && !job->custom_path) ||
	    (post && !job->post)) {
		fetch_job_free(job);
		return MDNS_ENOMEM;
	}
	rc = fetch_job_setup(job, f->cfg);
	if (rc == 0 && job->post &&
	    curl_easy_setopt(job->easy, CURLOPT_POSTFIELDS, job->post) != CURLE_OK)
		rc = MDNS_ECURL;
	if (rc) {
		fetch_job_free(job);
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &job->start);
	if (fetch_job_url(job) != 0) {
		fetch_job_free(job);
		return MDNS_EINVAL;
	}
	if (fetch_iam_on(f->cfg)) {
		if (!fetch_iam_token_ok(f)) {
			/* Wait for a login; its end (in the loop) starts or fails this fetch. */
			job->waiting_token = true;
			fetch_job_link(f, job);
			fetch_iam_login(f);
			return 0;
		}
		job->token = strdup(f->iam_token);
		if (!job->token) {
			fetch_job_free(job);
			return MDNS_ENOMEM;
		}
	}
	fetch_job_link(f, job);
	/* Adding only arms curl's timer; the transfer (and done) happen in the loop. */
	rc = fetch_job_start(job);
	if (rc) {
		fetch_job_unlink(job);
		fetch_job_free(job);
		return rc;
	}
	return 0;
}

int fetch_state(struct fetcher *f, const char *hostport,
		void (*done)(void *ctx, struct fetch_result *r), void *ctx)
{
	return fetch_submit(f, hostport, NULL, NULL, NULL, done, ctx);
}

int fetch_get(struct fetcher *f, const char *hostport, const char *path,
	      void (*done)(void *ctx, struct fetch_result *r), void *ctx)
{
	if (!path)
		return MDNS_EINVAL;
	return fetch_submit(f, hostport, path, NULL, NULL, done, ctx);
}

int fetch_stream(struct fetcher *f, const char *hostport, const char *path, const char *body,
		 const struct fetch_stream_ops *ops, void *ctx)
{
	if (!path || !body || !ops || !ops->open || !ops->data || !ops->done)
		return MDNS_EINVAL;
	return fetch_submit(f, hostport, path, ops, body, ops->done, ctx);
}
