/* lib/zk.c -- find the leading Mesos master through ZooKeeper (libzookeeper_mt). */
#include "lib/zk.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <zookeeper.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/masterinfo.h"

/*
 * Threads: libzookeeper_mt runs an I/O thread and a completion thread per
 * handle; watchers and completions run on the latter.  They never touch
 * struct zk's state: they copy what they got into a struct zk_msg, queue it
 * under z->mu and wake the loop with event_active().  Everything else runs
 * on the loop thread, which is also the only one calling the client's API.
 *
 * Each handle has a generation number; a message from an older handle (a
 * late completion after a re-init) is dropped.  Each listing of the path's
 * children starts a round; data read for an older round is dropped too, so
 * a burst of changes converges on the newest list.
 */

/*
 * We hold no ephemeral node, so a short session costs nothing but a re-read
 * after an expiry, and lets the client notice a silent server sooner (it
 * pings every third of the timeout).  Servers clamp it to 2..20 ticks
 * (4..40 s with the default 2 s tick).
 */
#define ZK_SESSION_TIMEOUT_MS	5000
#define ZK_BACKOFF_MAX		30	/* seconds between re-inits, at most */
#define ZK_RELIST_DELAY		1	/* seconds before listing again after an error */
#define ZK_NOPATH_DELAY		2	/* seconds between looks at a missing path */

enum zk_msg_kind { ZKM_SESSION, ZKM_CHILD_EVENT, ZKM_CHILDREN, ZKM_DATA };

/* What a ZooKeeper thread hands to the loop; owned by the queue, then by the loop. */
struct zk_msg {
	enum zk_msg_kind kind;
	unsigned gen;			/* handle generation */
	unsigned round;			/* CHILDREN, DATA */
	int state;			/* SESSION: ZOO_*_STATE */
	int rc;				/* CHILDREN, DATA: ZOK or an error */
	size_t idx;			/* DATA: index in the round */
	char **names;			/* CHILDREN */
	size_t nnames;
	char *data;			/* DATA (NULL when empty) */
	size_t len;
	struct zk_msg *next;
};

/* The context of a handle's watchers; freed after zookeeper_close returns. */
struct zk_hctx {
	struct zk *z;
	unsigned gen;
};

/* The data pointer of one asynchronous request; freed by its completion. */
struct zk_req {
	struct zk *z;
	unsigned gen, round;
	size_t idx;
};

/* One child being read in the current round. */
struct zk_child {
	char *name;
	int64_t seq;
	int json;
	int done;
	int rc;
	char *data;
	size_t len;
};

struct zk {
	struct event_base *base;
	char *hosts, *path;
	int detection_timeout;
	void (*on_change)(void *ctx);
	void *ctx;

	/* handed between threads */
	pthread_mutex_t mu;
	struct zk_msg *qhead, *qtail;
	int lost_msg;			/* a thread could not allocate a message */
	struct event *wake;

	/* loop thread only */
	zhandle_t *zh;
	struct zk_hctx *hctx;
	unsigned gen, round;
	int64_t session_id;		/* of the last established session */
	int backoff;			/* seconds before the next re-init */
	struct event *init_timer, *relist_timer, *detect_timer;
	struct event *expire_timer;	/* disconnected for a whole session timeout */
	struct zk_child *kids;		/* the round being read */
	size_t nkids, kids_left;
	int path_missing_logged;
	int none_registered_logged;
	struct zk_master *masters;	/* last non-empty list */
	size_t nmasters;
	struct zk_status st;
	struct zk_resolve *res;		/* host names being resolved, NULL: none */
	struct event *resolved;		/* ... and done */
};

/*
 * The ZooKeeper client resolves the host names of its connect string in
 * zookeeper_init, synchronously, on the thread that calls it: ours, which
 * also runs the HTTP API, signals, the watchdog and state refreshes.  With
 * a resolver that does not answer (the daemon first in resolv.conf while
 * it starts, or an upstream gone) that held the loop for tens of seconds,
 * at start and at every new session.  So names are resolved on a thread of
 * their own, and the client gets addresses.  The thread and the zk share
 * this, each holding a reference; the zk's leaves at zk_free, after which
 * the thread reports to nobody.
 */
struct zk_resolve {
	pthread_mutex_t mu;
	int refs;
	struct zk *z;			/* NULL once zk_free ran (under mu) */
	char *hosts;			/* the connect string, names and all */
	char *out;			/* the same with addresses; NULL: none resolved */
	char err[200];			/* the names that did not resolve, why */
};

static void zk_list(struct zk *z);

/* ---- the client's log ---------------------------------------------------- */

/* libzookeeper's lines go to our log at debug level: our own lines say what matters. */
static void zk_client_log(const char *message)
{
	log_debug("zk: client: %s", message);
}

static ssize_t zk_log_write(void *cookie, const char *buf, size_t size)
{
	size_t n = size;

	(void)cookie;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n)
		log_debug("zk: client: %.*s", (int)n, buf);
	return (ssize_t)size;
}

static pthread_once_t zk_log_once = PTHREAD_ONCE_INIT;

/* Lines logged without a handle go to the process-wide stream: route it to our log too. */
static void zk_log_setup(void)
{
	cookie_io_functions_t io = { .write = zk_log_write };
	FILE *f = fopencookie(NULL, "w", io);

	if (f) {
		setvbuf(f, NULL, _IOLBF, 0);
		zoo_set_log_stream(f);
	}
	zoo_set_debug_level(log_threshold >= LOG_LEVEL_DEBUG ? ZOO_LOG_LEVEL_INFO :
			    ZOO_LOG_LEVEL_ERROR);
}

/* ---- ZooKeeper threads: copy and post ------------------------------------ */

static void zk_post(struct zk *z, struct zk_msg *m)
{
	pthread_mutex_lock(&z->mu);
	if (!m) {
		z->lost_msg = 1;
	} else {
		m->next = NULL;
		if (z->qtail)
			z->qtail->next = m;
		else
			z->qhead = m;
		z->qtail = m;
	}
	pthread_mutex_unlock(&z->mu);
	event_active(z->wake, 0, 0);
}

static void zk_msg_free(struct zk_msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nnames; i++)
		free(m->names[i]);
	free(m->names);
	free(m->data);
	free(m);
}

static struct zk_msg *zk_msg_new(enum zk_msg_kind kind, unsigned gen)
{
	struct zk_msg *m = calloc(1, sizeof(*m));

	if (m) {
		m->kind = kind;
		m->gen = gen;
	}
	return m;
}

/* The handle's global watcher: session state changes. */
static void zk_on_session(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	struct zk_hctx *h = ctx;
	struct zk_msg *m;

	(void)zh;
	(void)path;
	if (type != ZOO_SESSION_EVENT)
		return;
	m = zk_msg_new(ZKM_SESSION, h->gen);
	if (m)
		m->state = state;
	zk_post(h->z, m);
}

/* The children watch: anything but a session event means "list again". */
static void zk_on_children_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	struct zk_hctx *h = ctx;

	(void)zh;
	(void)state;
	(void)path;
	if (type == ZOO_SESSION_EVENT)
		return;		/* the global watcher has it */
	zk_post(h->z, zk_msg_new(ZKM_CHILD_EVENT, h->gen));
}

static void zk_on_children(int rc, const struct String_vector *sv, const struct Stat *stat,
			   const void *data)
{
	struct zk_req *req = (struct zk_req *)data;
	struct zk_msg *m = zk_msg_new(ZKM_CHILDREN, req->gen);

	(void)stat;
	if (m) {
		m->round = req->round;
		m->rc = rc;
		if (rc == ZOK && sv && sv->count > 0) {
			m->names = calloc((size_t)sv->count, sizeof(*m->names));
			for (int i = 0; m->names && i < sv->count; i++) {
				m->names[i] = strdup(sv->data[i] ? sv->data[i] : "");
				if (!m->names[i]) {
					zk_msg_free(m);
					m = NULL;
					break;
				}
				m->nnames++;
			}
			if (m && !m->names) {
				zk_msg_free(m);
				m = NULL;
			}
		}
	}
	zk_post(req->z, m);
	free(req);
}

static void zk_on_data(int rc, const char *value, int len, const struct Stat *stat,
		       const void *data)
{
	struct zk_req *req = (struct zk_req *)data;
	struct zk_msg *m = zk_msg_new(ZKM_DATA, req->gen);

	(void)stat;
	if (m) {
		m->round = req->round;
		m->idx = req->idx;
		m->rc = rc;
		if (rc == ZOK && value && len > 0) {
			m->data = malloc((size_t)len);
			if (!m->data) {
				zk_msg_free(m);
				m = NULL;
			} else {
				memcpy(m->data, value, (size_t)len);
				m->len = (size_t)len;
			}
		}
	}
	zk_post(req->z, m);
	free(req);
}

/* ---- loop thread ----------------------------------------------------------- */

static const char *zk_state_name(int state)
{
	if (state == ZOO_CONNECTED_STATE)
		return "connected";
	if (state == ZOO_CONNECTING_STATE)
		return "connecting";
	if (state == ZOO_ASSOCIATING_STATE)
		return "associating";
	if (state == ZOO_EXPIRED_SESSION_STATE)
		return "session expired";
	if (state == ZOO_AUTH_FAILED_STATE)
		return "authentication failed";
	return "unknown";
}

static void zk_kids_free(struct zk *z)
{
	for (size_t i = 0; i < z->nkids; i++) {
		free(z->kids[i].name);
		free(z->kids[i].data);
	}
	free(z->kids);
	z->kids = NULL;
	z->nkids = z->kids_left = 0;
}

static void zk_arm(struct event *ev, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	evtimer_add(ev, &tv);
}

/* No leader confirmed any more: count time towards "degraded". */
static void zk_lose_leader(struct zk *z)
{
	if (z->st.have_leader) {
		z->st.have_leader = 0;
		z->st.since = time(NULL);
	}
	if (!z->st.degraded && !evtimer_pending(z->detect_timer, NULL))
		zk_arm(z->detect_timer, z->detection_timeout);
}

static void zk_detect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zk *z = arg;

	(void)fd;
	(void)what;
	if (z->st.have_leader || z->st.degraded)
		return;
	z->st.degraded = 1;
	if (z->nmasters)
		log_warn("zk: degraded: no leading master from ZooKeeper %s for %d s (%s); "
			 "serving the last good zone, fetching from the last known masters "
			 "(leader %s)", z->hosts, z->detection_timeout,
			 z->st.connected ? "no master registered" : "not connected",
			 z->masters[0].hostport);
	else
		log_warn("zk: degraded: no leading master from ZooKeeper %s for %d s (%s); "
			 "serving the last good zone", z->hosts, z->detection_timeout,
			 z->st.connected ? "no master registered" : "not connected");
}

/* Close the handle, if any; late messages of its generation are dropped. */
static void zk_close_handle(struct zk *z)
{
	if (z->zh) {
		/* Joins the client's threads; completions still pending run with ZCLOSING. */
		zookeeper_close(z->zh);
		z->zh = NULL;
	}
	free(z->hctx);
	z->hctx = NULL;
	z->gen++;
	zk_kids_free(z);
	if (z->relist_timer)
		evtimer_del(z->relist_timer);
	if (z->expire_timer)
		evtimer_del(z->expire_timer);
}

static void zk_init_with(struct zk *z, const char *hosts)
{
	z->hctx = calloc(1, sizeof(*z->hctx));
	if (z->hctx) {
		z->hctx->z = z;
		z->hctx->gen = z->gen;
		errno = 0;
		z->zh = zookeeper_init2(hosts, zk_on_session, ZK_SESSION_TIMEOUT_MS, NULL,
					z->hctx, 0, zk_client_log);
	}
	if (!z->zh) {
		int e = errno;
		free(z->hctx);
		z->hctx = NULL;
		z->backoff = z->backoff ? z->backoff * 2 : 1;
		if (z->backoff > ZK_BACKOFF_MAX)
			z->backoff = ZK_BACKOFF_MAX;
		log_warn("zk: cannot start a ZooKeeper client for %s: %s; retrying in %d s",
			 z->hosts, e ? strerror(e) : "out of memory", z->backoff);
		zk_arm(z->init_timer, z->backoff);
		return;
	}
	log_debug("zk: connecting to %s (session timeout %d ms)", hosts, ZK_SESSION_TIMEOUT_MS);
}

static int zk_hosts_literal(const char *hosts);
static int zk_resolve_start(struct zk *z);

static void zk_init_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zk *z = arg;

	(void)fd;
	(void)what;
	if (z->zh || z->res)
		return;		/* a session, or names being resolved for one */
	/* Names are looked up afresh for each session: a ZooKeeper host that
	 * moved is found at the next one. */
	if (!zk_hosts_literal(z->hosts) && zk_resolve_start(z) == 0)
		return;
	zk_init_with(z, z->hosts);
}

static void zk_resolve_unref(struct zk_resolve *r)
{
	pthread_mutex_lock(&r->mu);
	int last = --r->refs == 0;
	pthread_mutex_unlock(&r->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->hosts);
	free(r->out);
	free(r);
}

/* host ("name", "1.2.3.4", "[::1]") is an IP literal. */
static int zk_host_literal(const char *host, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 2];
	unsigned char a[16];

	if (len + 1 > sizeof(buf))
		return 0;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		return inet_pton(AF_INET6, buf, a) == 1;
	}
	memcpy(buf, host, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, a) == 1;
}

/* The port's colon of one connect-string entry p[0..len) ("host:port",
 * "[v6]:port", "host", "[v6]"), or NULL. */
static const char *zk_port_colon(const char *p, size_t len)
{
	const char *colon = memrchr(p, ':', len);

	if (colon && p[0] == '[' && (colon == p || colon[-1] != ']'))
		return NULL;	/* inside "[v6]", no port */
	return colon;
}

/* Every host of the connect string ("h:p,h:p") is an IP literal. */
static int zk_hosts_literal(const char *hosts)
{
	for (const char *p = hosts; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon = zk_port_colon(p, len);
		if (!zk_host_literal(p, colon ? (size_t)(colon - p) : len))
			return 0;
		p = end ? end + 1 : p + len;
	}
	return 1;
}

/* Append s to the growing list *out (comma-separated); 0 or -1. */
static int zk_append(char **out, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *v = realloc(*out, *len + n + 2);

	if (!v)
		return -1;
	if (*len)
		v[(*len)++] = ',';
	memcpy(v + *len, s, n + 1);
	*len += n;
	*out = v;
	return 0;
}

static void *zk_resolve_main(void *arg)
{
	struct zk_resolve *r = arg;
	char *out = NULL;
	size_t olen = 0;
	int oom = 0;

	for (const char *p = r->hosts; *p && !oom;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char host[300], port[8] = "2181", lit[320];
		const char *colon = zk_port_colon(p, len);
		size_t hl = colon ? (size_t)(colon - p) : len;
		if (hl >= sizeof(host) || (colon && len - hl - 1 >= sizeof(port))) {
			p = end ? end + 1 : p + len;
			continue;
		}
		memcpy(host, p, hl);
		host[hl] = '\0';
		if (colon) {
			memcpy(port, colon + 1, len - hl - 1);
			port[len - hl - 1] = '\0';
		}
		p = end ? end + 1 : p + len;
		if (zk_host_literal(host, hl)) {
			snprintf(lit, sizeof(lit), "%s:%s", host, port);
			oom = zk_append(&out, &olen, lit) != 0;
			continue;
		}
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
		struct addrinfo *ai = NULL;
		int rc = getaddrinfo(host, port, &hints, &ai);
		if (rc != 0) {
			size_t el = strlen(r->err);
			snprintf(r->err + el, sizeof(r->err) - el, "%s%s: %s", el ? "; " : "", host,
				 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
			continue;
		}
		for (struct addrinfo *a = ai; a && !oom; a = a->ai_next) {
			char ip[INET6_ADDRSTRLEN];
			const void *src = a->ai_family == AF_INET6 ?
				(const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr :
				(const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
			if (!inet_ntop(a->ai_family, src, ip, sizeof(ip)))
				continue;
			/* No brackets: the client takes the port after the last
			 * ':' and refuses "[v6]:port". */
			snprintf(lit, sizeof(lit), "%s:%s", ip, port);
			oom = zk_append(&out, &olen, lit) != 0;
		}
		freeaddrinfo(ai);
	}
	if (oom) {
		free(out);
		out = NULL;
		snprintf(r->err, sizeof(r->err), "out of memory");
	}
	pthread_mutex_lock(&r->mu);
	r->out = out;
	if (r->z)
		event_active(r->z->resolved, 0, 0);
	pthread_mutex_unlock(&r->mu);
	zk_resolve_unref(r);
	return NULL;
}

static void zk_init_with(struct zk *z, const char *hosts);

/* Loop: the host names are resolved (or not): start the client on the addresses. */
static void zk_resolved_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zk *z = arg;
	struct zk_resolve *r = z->res;

	(void)fd;
	(void)what;
	if (!r)
		return;
	z->res = NULL;
	pthread_mutex_lock(&r->mu);
	char *out = r->out;
	r->out = NULL;
	pthread_mutex_unlock(&r->mu);
	if (r->err[0] && out)
		log_warn("zk: cannot resolve %s; going on with the others", r->err);
	if (!out) {
		z->backoff = z->backoff ? z->backoff * 2 : 1;
		if (z->backoff > ZK_BACKOFF_MAX)
			z->backoff = ZK_BACKOFF_MAX;
		log_warn("zk: cannot resolve any ZooKeeper host of %s (%s); retrying in %d s",
			 z->hosts, r->err[0] ? r->err : "no address", z->backoff);
		zk_arm(z->init_timer, z->backoff);
	} else if (!z->zh) {
		log_debug("zk: %s resolved to %s", z->hosts, out);
		zk_init_with(z, out);
	}
	free(out);
	zk_resolve_unref(r);
}

/* Resolve z's host names on a thread of its own; 0, or -1 (then try inline). */
static int zk_resolve_start(struct zk *z)
{
	struct zk_resolve *r = calloc(1, sizeof(*r));
	pthread_t t;
	pthread_attr_t at;

	if (!r || !(r->hosts = strdup(z->hosts))) {
		free(r);
		return -1;
	}
	pthread_mutex_init(&r->mu, NULL);
	r->refs = 2;
	r->z = z;
	z->res = r;
	if (pthread_attr_init(&at) != 0)
		goto fail;
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &at, zk_resolve_main, r);
	pthread_attr_destroy(&at);
	if (rc == 0)
		return 0;
fail:
	z->res = NULL;
	r->refs = 1;
	zk_resolve_unref(r);
	return -1;
}

/* Start over with a new session after delay seconds (0: at the next loop turn). */
static void zk_restart(struct zk *z, int delay)
{
	zk_close_handle(z);
	zk_arm(z->init_timer, delay);
}

/*
 * Disconnected for longer than the session timeout: the server has expired
 * the session (or, restarted with its data wiped, refuses a client that saw
 * newer transactions than it has, for ever).  Either way only a new handle,
 * which starts from zxid 0, can get a session again.
 */
static void zk_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zk *z = arg;
	int delay = z->backoff;

	(void)fd;
	(void)what;
	if (z->st.connected || !z->zh)
		return;
	z->st.session_expiries++;
	log_warn("zk: no connection to ZooKeeper %s for a whole session timeout (%d ms); "
		 "starting a new session", z->hosts, zoo_recv_timeout(z->zh));
	z->backoff = z->backoff ? z->backoff * 2 : 1;
	if (z->backoff > ZK_BACKOFF_MAX)
		z->backoff = ZK_BACKOFF_MAX;
	zk_restart(z, delay);
}

static void zk_relist_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	zk_list(arg);
}

/* List the children of the path and watch them; the reply starts a new round. */
static void zk_list(struct zk *z)
{
	struct zk_req *req;
	int rc;

	if (!z->zh || !z->st.connected)
		return;
	evtimer_del(z->relist_timer);
	zk_kids_free(z);
	z->round++;
	req = calloc(1, sizeof(*req));
	if (!req) {
		zk_arm(z->relist_timer, ZK_RELIST_DELAY);
		return;
	}
	*req = (struct zk_req){ .z = z, .gen = z->gen, .round = z->round };
	rc = zoo_awget_children2(z->zh, z->path, zk_on_children_watch, z->hctx, zk_on_children, req);
	if (rc != ZOK) {
		free(req);
		log_debug("zk: listing %s failed: %s", z->path, zerror(rc));
		zk_arm(z->relist_timer, ZK_RELIST_DELAY);
	}
}

static int zk_child_cmp(const void *a, const void *b)
{
	const struct zk_child *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int zk_masters_equal(const struct zk_master *a, size_t na, const struct zk_master *b,
			    size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].hostport, b[i].hostport) != 0 || a[i].seq != b[i].seq)
			return 0;
	return 1;
}

/*
 * Every child of the round has been read: decode, pick the leader, tell the
 * owner.  The lowest sequence number leads, whatever its node holds: when
 * that node cannot be read or decoded there is no leader this round (as for
 * Mesos's own detector), not the next master in line, which is a follower.
 * The masters known before stay, for fetching.
 */
static void zk_round_done(struct zk *z)
{
	struct zk_master *list = calloc(z->nkids ? z->nkids : 1, sizeof(*list));
	size_t n = 0;
	int lowest = 1;		/* the next node that exists is the lowest */

	if (!list) {
		log_err("zk: out of memory reading the masters");
		zk_arm(z->relist_timer, ZK_RELIST_DELAY);
		return;
	}
	for (size_t i = 0; i < z->nkids; i++) {
		struct zk_child *k = &z->kids[i];
		struct masterinfo mi;
		char why[256] = "";
		int rc;

		if (k->rc == ZNONODE)
			continue;	/* gone since the listing; its watch brings a new round */
		if (k->rc != ZOK)
			snprintf(why, sizeof(why), "cannot read it: %s", zerror(k->rc));
		rc = k->rc != ZOK ? -1
		     : k->json ? masterinfo_parse_json(k->data ? k->data : "", k->len, &mi, why,
						       sizeof(why))
			       : masterinfo_parse_pb((const uint8_t *)k->data, k->len, &mi, why,
						     sizeof(why));
		if (rc == 0) {
			rc = masterinfo_hostport(&mi, list[n].hostport, sizeof(list[n].hostport));
			if (rc)
				snprintf(why, sizeof(why), "no usable address or port");
			masterinfo_clear(&mi);
		}
		if (rc && lowest) {
			log_warn("zk: the leading node %s/%s is not usable (%s); no leading master "
				 "until it is replaced", z->path, k->name, why);
			/* A read that failed here (no memory, a marshalling
			 * error) may succeed later: list again.  A node that does
			 * not decode waits for the children watch. */
			if (k->rc != ZOK)
				zk_arm(z->relist_timer, ZK_RELIST_DELAY);
			free(list);
			zk_kids_free(z);
			zk_lose_leader(z);
			return;
		}
		lowest = 0;
		if (rc) {
			log_warn("zk: ignoring %s/%s: %s", z->path, k->name, why);
			continue;
		}
		list[n].seq = k->seq;
		list[n].json = k->json;
		n++;
	}
	zk_kids_free(z);
	z->st.nmasters = n;

	if (n == 0) {
		free(list);
		if (!z->none_registered_logged) {
			log_warn("zk: no master registered under %s", z->path);
			z->none_registered_logged = 1;
		}
		zk_lose_leader(z);
		return;
	}
	z->none_registered_logged = 0;
	int changed = !zk_masters_equal(list, n, z->masters, z->nmasters);
	int leader_moved = !z->nmasters || strcmp(list[0].hostport, z->masters[0].hostport) != 0;
	if (!z->st.have_leader) {
		z->st.have_leader = 1;
		z->st.since = time(NULL);
	}
	evtimer_del(z->detect_timer);
	if (z->st.degraded) {
		z->st.degraded = 0;
		log_info("zk: leader detection recovered");
	}
	if (changed) {
		free(z->masters);
		z->masters = list;
		z->nmasters = n;
		list = NULL;
	}
	free(list);
	snprintf(z->st.leader, sizeof(z->st.leader), "%s", z->masters[0].hostport);
	if (leader_moved) {
		z->st.leader_changes++;
		log_info("zk: leading master is %s (node %s%010lld; %zu master%s registered)",
			 z->masters[0].hostport, z->masters[0].json ? "json.info_" : "info_",
			 (long long)z->masters[0].seq, n, n == 1 ? "" : "s");
	} else if (changed) {
		log_info("zk: %zu master%s registered, leader still %s", n, n == 1 ? "" : "s",
			 z->masters[0].hostport);
	}
	if (changed && z->on_change)
		z->on_change(z->ctx);
}

static void zk_on_children_msg(struct zk *z, struct zk_msg *m)
{
	size_t njson = 0;

	if (m->round != z->round)
		return;
	if (m->rc == ZNONODE) {
		if (!z->path_missing_logged) {
			log_warn("zk: %s does not exist on %s (yet); waiting for a master to register",
				 z->path, z->hosts);
			z->path_missing_logged = 1;
		}
		z->st.nmasters = 0;
		zk_lose_leader(z);
		zk_arm(z->relist_timer, ZK_NOPATH_DELAY);
		return;
	}
	if (m->rc != ZOK) {
		/* Connection trouble: the session event that follows lists again. */
		log_debug("zk: listing %s: %s", z->path, zerror(m->rc));
		zk_arm(z->relist_timer, ZK_RELIST_DELAY);
		return;
	}
	z->path_missing_logged = 0;

	/* json.info_ nodes when there is any; the old info_ ones only otherwise. */
	for (size_t i = 0; i < m->nnames; i++) {
		int64_t seq;
		if (masterinfo_node_kind(m->names[i], &seq) == MASTERINFO_NODE_JSON)
			njson++;
	}
	enum masterinfo_node want = njson ? MASTERINFO_NODE_JSON : MASTERINFO_NODE_PB;
	z->kids = calloc(m->nnames ? m->nnames : 1, sizeof(*z->kids));
	if (!z->kids) {
		zk_arm(z->relist_timer, ZK_RELIST_DELAY);
		return;
	}
	for (size_t i = 0; i < m->nnames; i++) {
		int64_t seq;
		if (masterinfo_node_kind(m->names[i], &seq) != want)
			continue;
		struct zk_child *k = &z->kids[z->nkids++];
		k->name = m->names[i];
		m->names[i] = NULL;
		k->seq = seq;
		k->json = want == MASTERINFO_NODE_JSON;
	}
	qsort(z->kids, z->nkids, sizeof(*z->kids), zk_child_cmp);
	z->kids_left = z->nkids;
	if (z->nkids == 0) {
		zk_round_done(z);
		return;
	}
	for (size_t i = 0; i < z->nkids; i++) {
		struct zk_child *k = &z->kids[i];
		size_t plen = strlen(z->path) + 1 + strlen(k->name) + 1;
		char *full = malloc(plen);
		struct zk_req *req = calloc(1, sizeof(*req));
		int rc = ZSYSTEMERROR;

		if (full && req) {
			snprintf(full, plen, "%s/%s", z->path, k->name);
			*req = (struct zk_req){ .z = z, .gen = z->gen, .round = z->round, .idx = i };
			rc = zoo_aget(z->zh, full, 0, zk_on_data, req);
		}
		free(full);
		if (rc != ZOK) {
			free(req);
			k->done = 1;
			k->rc = rc;
			z->kids_left--;
		}
	}
	if (z->kids_left == 0)
		zk_round_done(z);
}

static void zk_on_data_msg(struct zk *z, struct zk_msg *m)
{
	struct zk_child *k;

	if (m->round != z->round || m->idx >= z->nkids)
		return;
	k = &z->kids[m->idx];
	if (k->done)
		return;
	k->done = 1;
	k->rc = m->rc;
	k->data = m->data;
	k->len = m->len;
	m->data = NULL;
	if (--z->kids_left == 0)
		zk_round_done(z);
}

static void zk_on_session_msg(struct zk *z, struct zk_msg *m)
{
	if (m->state == ZOO_CONNECTED_STATE) {
		const clientid_t *cid = zoo_client_id(z->zh);
		int64_t sid = cid ? cid->client_id : 0;
		int new_session = sid != z->session_id;

		z->session_id = sid;
		z->backoff = 0;
		evtimer_del(z->expire_timer);
		if (new_session)
			z->st.sessions++;
		if (!z->st.connected) {
			z->st.connected = 1;
			log_info("zk: connected to ZooKeeper %s (%s session 0x%llx)", z->hosts,
				 new_session ? "new" : "same", (unsigned long long)sid);
		}
		/* A new round also re-arms the watch (a no-op when it survived). */
		zk_list(z);
	} else if (m->state == ZOO_EXPIRED_SESSION_STATE || m->state == ZOO_AUTH_FAILED_STATE) {
		if (m->state == ZOO_EXPIRED_SESSION_STATE)
			z->st.session_expiries++;
		z->st.connected = 0;
		zk_lose_leader(z);
		log_warn("zk: %s on %s; starting a new session%s", zk_state_name(m->state),
			 z->hosts, z->backoff ? "" : " now");
		int delay = z->backoff;
		z->backoff = z->backoff ? z->backoff * 2 : 1;
		if (z->backoff > ZK_BACKOFF_MAX)
			z->backoff = ZK_BACKOFF_MAX;
		zk_restart(z, delay);
	} else {
		/* Connecting / associating: the client retries the ensemble by itself. */
		if (z->st.connected) {
			int ms = zoo_recv_timeout(z->zh);
			struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

			z->st.connected = 0;
			log_warn("zk: lost the connection to ZooKeeper %s (%s); retrying, answers "
				 "continue from the last good zone", z->hosts, zk_state_name(m->state));
			evtimer_add(z->expire_timer, &tv);
		}
		zk_lose_leader(z);
	}
}

static void zk_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zk *z = arg;
	struct zk_msg *q;
	int lost;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&z->mu);
	q = z->qhead;
	z->qhead = z->qtail = NULL;
	lost = z->lost_msg;
	z->lost_msg = 0;
	pthread_mutex_unlock(&z->mu);

	while (q) {
		struct zk_msg *m = q;
		q = q->next;
		if (m->gen == z->gen && z->zh) {
			switch (m->kind) {
			case ZKM_SESSION:
				zk_on_session_msg(z, m);
				break;
			case ZKM_CHILD_EVENT:
				zk_list(z);
				break;
			case ZKM_CHILDREN:
				zk_on_children_msg(z, m);
				break;
			case ZKM_DATA:
				zk_on_data_msg(z, m);
				break;
			}
		}
		zk_msg_free(m);
	}
	if (lost) {
		/* A reply was lost to a failed allocation: read everything again. */
		log_warn("zk: out of memory copying a ZooKeeper reply; listing again");
		zk_arm(z->relist_timer, ZK_RELIST_DELAY);
	}
}

/* ---- public ----------------------------------------------------------------- */

int zk_parse_url(const char *url, char **hosts, char **path)
{
	const char *rest, *slash;

	*hosts = *path = NULL;
	if (!url || strncasecmp(url, "zk://", 5) != 0)
		return MDNS_EINVAL;
	rest = url + 5;
	slash = strchr(rest, '/');
	if (!slash || slash == rest || slash[1] == '\0')
		return MDNS_EINVAL;
	*hosts = strndup(rest, (size_t)(slash - rest));
	*path = strdup(slash);
	if (!*hosts || !*path) {
		free(*hosts);
		free(*path);
		*hosts = *path = NULL;
		return MDNS_ENOMEM;
	}
	/* A trailing '/' would make every child path "//name". */
	size_t n = strlen(*path);
	while (n > 1 && (*path)[n - 1] == '/')
		(*path)[--n] = '\0';
	return 0;
}

struct zk *zk_new(struct event_base *base, const char *url, int detection_timeout,
		  void (*on_change)(void *ctx), void *ctx)
{
	struct zk *z = calloc(1, sizeof(*z));

	if (!z)
		return NULL;
	if (zk_parse_url(url, &z->hosts, &z->path) != 0) {
		free(z);
		return NULL;
	}
	pthread_once(&zk_log_once, zk_log_setup);
	z->base = base;
	z->detection_timeout = detection_timeout > 0 ? detection_timeout : 30;
	z->on_change = on_change;
	z->ctx = ctx;
	pthread_mutex_init(&z->mu, NULL);
	z->wake = event_new(base, -1, 0, zk_wake_cb, z);
	z->init_timer = evtimer_new(base, zk_init_cb, z);
	z->relist_timer = evtimer_new(base, zk_relist_cb, z);
	z->detect_timer = evtimer_new(base, zk_detect_cb, z);
	z->expire_timer = evtimer_new(base, zk_expire_cb, z);
	z->resolved = event_new(base, -1, 0, zk_resolved_cb, z);
	if (!z->wake || !z->init_timer || !z->relist_timer || !z->detect_timer ||
	    !z->expire_timer || !z->resolved) {
		zk_free(z);
		return NULL;
	}
	log_info("zk: watching %s on %s for the leading master", z->path, z->hosts);
	zk_arm(z->detect_timer, z->detection_timeout);
	zk_init_cb(-1, 0, z);
	return z;
}

void zk_free(struct zk *z)
{
	if (!z)
		return;
	if (z->res) {
		/* The resolver thread goes on to its end, reporting to nobody. */
		pthread_mutex_lock(&z->res->mu);
		z->res->z = NULL;
		pthread_mutex_unlock(&z->res->mu);
		zk_resolve_unref(z->res);
		z->res = NULL;
	}
	if (z->resolved)
		event_free(z->resolved);
	zk_close_handle(z);
	/* The client's threads are gone: nothing posts any more. */
	struct zk_msg *q = z->qhead;
	while (q) {
		struct zk_msg *n = q->next;
		zk_msg_free(q);
		q = n;
	}
	if (z->wake)
		event_free(z->wake);
	if (z->init_timer)
		event_free(z->init_timer);
	if (z->relist_timer)
		event_free(z->relist_timer);
	if (z->detect_timer)
		event_free(z->detect_timer);
	if (z->expire_timer)
		event_free(z->expire_timer);
	pthread_mutex_destroy(&z->mu);
	free(z->masters);
	free(z->hosts);
	free(z->path);
	free(z);
}

void zk_status(const struct zk *z, struct zk_status *out)
{
	*out = z->st;
}

int zk_masters(const struct zk *z, struct zk_master **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!z->nmasters)
		return 0;
	*out = malloc(z->nmasters * sizeof(**out));
	if (!*out)
		return MDNS_ENOMEM;
	memcpy(*out, z->masters, z->nmasters * sizeof(**out));
	*n = z->nmasters;
	return 0;
}
