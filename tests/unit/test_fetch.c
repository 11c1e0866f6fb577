/* tests/unit/test_fetch.c -- lib/fetch against fake Mesos masters (tests/integration/fake_master.py). */
#include "lib/fetch.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/err.h"
#include "tests/unit/tap.h"

#define FAKE_MASTER "tests/integration/fake_master.py"
#define STATE_FIXTURE "tests/data/fake.json"

/* ---- files ------------------------------------------------------------------ */

static char tmpdir[] = "/tmp/test_fetch.XXXXXX";

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!fp)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			char *p = realloc(buf, cap = (cap ? cap * 2 : 8192));
			if (!p) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = p;
		}
		got = fread(buf + n, 1, 4096, fp);
		n += got;
	} while (got > 0);
	fclose(fp);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static bool spew(const char *path, const char *data, size_t len)
{
	char tmp[512];
	FILE *fp;
	bool good;

	/* Rename into place so the fake master never reads half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fp = fopen(tmp, "wb");
	if (!fp)
		return false;
	good = fwrite(data, 1, len, fp) == len;
	good = fclose(fp) == 0 && good;
	return good && rename(tmp, path) == 0;
}

static bool spew_str(const char *path, const char *s)
{
	return spew(path, s, strlen(s));
}

/* Lines of a request log equal to "GET <path>\t..." */
static int count_requests(const char *log, const char *path)
{
	char *text = slurp(log, NULL), *line, *save = NULL;
	size_t plen = strlen(path);
	int n = 0;

	if (!text)
		return 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "GET ", 4) == 0 && strncmp(line + 4, path, plen) == 0 &&
		    line[4 + plen] == '\t')
			n++;
	free(text);
	return n;
}

/* ---- fake masters ----------------------------------------------------------------- */

struct master {
	pid_t pid;
	int port;
	char hostport[64];
	char state[256];	/* the file it serves; rewrite to change the state */
	char log[256];
};

/* Start fake_master.py with extra options (NULL-terminated); wait until it listens. */
static bool master_start(struct master *m, const char *name, const char *const *extra)
{
	char ready[300], *text;
	const char *argv[32];
	int argc = 0, status;
	struct timespec pause = { 0, 20 * 1000 * 1000 };

	memset(m, 0, sizeof(*m));
	snprintf(m->state, sizeof(m->state), "%s/%s.json", tmpdir, name);
	snprintf(m->log, sizeof(m->log), "%s/%s.log", tmpdir, name);
	snprintf(ready, sizeof(ready), "%s/%s.ready", tmpdir, name);
	if (access(m->state, F_OK) != 0) {
		size_t len;
		char *doc = slurp(STATE_FIXTURE, &len);
		bool good = doc && spew(m->state, doc, len);
		free(doc);
		if (!good)
			return false;
	}
	argv[argc++] = "python3";
	argv[argc++] = FAKE_MASTER;
	argv[argc++] = "--port";
	argv[argc++] = "0";
	argv[argc++] = "--state";
	argv[argc++] = m->state;
	argv[argc++] = "--ready-file";
	argv[argc++] = ready;
	argv[argc++] = "--log";
	argv[argc++] = m->log;
	for (; extra && *extra && argc < 31; extra++)
		argv[argc++] = *extra;
	argv[argc] = NULL;

	fflush(stdout);
	m->pid = fork();
	if (m->pid < 0)
		return false;
	if (m->pid == 0) {
		/* Die with the test even if it crashes before master_stop. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {	/* 10 s */
		if ((text = slurp(ready, NULL)) != NULL) {
			m->port = atoi(text);
			free(text);
			if (m->port > 0) {
				snprintf(m->hostport, sizeof(m->hostport), "127.0.0.1:%d", m->port);
				return true;
			}
		}
		if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
			m->pid = 0;
			return false;
		}
		nanosleep(&pause, NULL);
	}
	return false;
}

static void master_stop(struct master *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		waitpid(m->pid, NULL, 0);
		m->pid = 0;
	}
}

/* A TCP port nothing listens on (bound, read, closed). */
static int unused_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* ---- running fetches ------------------------------------------------------------- */

struct got {
	int calls;
	bool sync;		/* called while fetch_state was running */
	int rc;
	long status;
	char *body;
	size_t len;
	char url[512];
	char err[256];
	/* optional actions from inside the callback */
	struct fetcher *chain_f;
	const char *chain_hostport;
	struct got *chain_got;
	struct fetcher *free_f;
};

static struct event_base *base;
static int outstanding;
static bool in_fetch_state;

static void on_done(void *ctx, struct fetch_result *r);

static int start(struct fetcher *f, const char *hostport, struct got *g)
{
	int rc;

	in_fetch_state = true;
	rc = fetch_state(f, hostport, on_done, g);
	in_fetch_state = false;
	if (rc == 0)
		outstanding++;
	return rc;
}

static void on_done(void *ctx, struct fetch_result *r)
{
	struct got *g = ctx;

	g->calls++;
	g->sync = g->sync || in_fetch_state;
	g->rc = r->rc;
	g->status = r->http_status;
	free(g->body);
	g->body = r->body;
	g->len = r->len;
	memcpy(g->url, r->url, sizeof(g->url));
	memcpy(g->err, r->err, sizeof(g->err));
	outstanding--;
	if (g->chain_f)
		start(g->chain_f, g->chain_hostport, g->chain_got);
	if (g->free_f) {
		fetcher_free(g->free_f);
		outstanding = 0;	/* the others are cancelled */
	}
	if (outstanding <= 0)
		event_base_loopbreak(base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

/* Run the loop until every started fetch reported, or max_ms passed; true if all did. */
static bool run(long max_ms)
{
	struct event *deadline = evtimer_new(base, on_deadline, NULL);
	struct timeval tv = { max_ms / 1000, (max_ms % 1000) * 1000 };

	evtimer_add(deadline, &tv);
	if (outstanding > 0)
		event_base_dispatch(base);
	event_free(deadline);
	return outstanding == 0;
}

static void got_clear(struct got *g)
{
	free(g->body);
	memset(g, 0, sizeof(*g));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool body_is_file(const struct got *g, const char *path)
{
	size_t len;
	char *want = slurp(path, &len);
	bool same = want && g->body && g->len == len && memcmp(g->body, want, len) == 0 &&
		    g->body[len] == '\0';

	free(want);
	return same;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_basic(struct fetcher *f, struct master *a)
{
	struct got g = { 0 };
	char want_url[128], *log;

	is_int(start(f, a->hostport, &g), 0, "fetch_state starts");
	is_int(g.calls, 0, "no callback before the loop runs");
	is_int(fetcher_pending(f), 1, "one fetch pending");
	ok(run(10000), "fetch finishes");
	is_int(g.calls, 1, "callback called once");
	ok(!g.sync, "callback not called from inside fetch_state");
	is_int(g.rc, 0, "rc 0 (%s)", g.err);
	is_int(g.status, 200, "HTTP 200");
	snprintf(want_url, sizeof(want_url), "http://%s/master/state", a->hostport);
	is_str(g.url, want_url, "url is /master/state");
	ok(body_is_file(&g, a->state), "body equals the state file (%zu bytes)", g.len);
	is_int(fetcher_pending(f), 0, "nothing pending");
	is_str(fetcher_path_for(f, a->hostport), "/master/state", "path stays /master/state");

	log = slurp(a->log, NULL);
	ok(log && strstr(log, "\tmesos-dnsd/" MESOSDNSD_VERSION "\t"),
	   "User-Agent mesos-dnsd/" MESOSDNSD_VERSION);
	ok(log && strstr(log, "gzip"), "Accept-Encoding offers gzip (the master compressed)");
	free(log);
	got_clear(&g);

	/* The master re-reads its file: a new state is seen by the next fetch. */
	ok(spew_str(a->state, "{\"leader\":\"master@127.0.0.1:5050\",\"frameworks\":[]}"),
	   "state file swapped");
	start(f, a->hostport, &g);
	ok(run(10000) && g.rc == 0, "second fetch ok");
	ok(body_is_file(&g, a->state), "body follows the swapped file");
	got_clear(&g);
}

static void test_fallback(struct fetcher *f, struct master *b)
{
	struct got g = { 0 };
	char want_url[128], want_leader[64];

	is_int(start(f, b->hostport, &g), 0, "fetch from an old master starts");
	ok(run(10000), "fetch finishes");
	is_int(g.rc, 0, "404 on /master/state falls back (%s)", g.err);
	snprintf(want_url, sizeof(want_url), "http://%s/master/state.json", b->hostport);
	is_str(g.url, want_url, "url is /master/state.json");
	snprintf(want_leader, sizeof(want_leader), "\"master@127.0.0.1:%d\"", b->port);
	ok(g.body && strstr(g.body, want_leader), "leader rewritten to the fake master");
	is_int(count_requests(b->log, "/master/state"), 1, "one request to /master/state");
	is_int(count_requests(b->log, "/master/state.json"), 1, "one request to /master/state.json");
	is_str(fetcher_path_for(f, b->hostport), "/master/state.json", "path remembered");
	got_clear(&g);

	start(f, b->hostport, &g);
	ok(run(10000) && g.rc == 0, "second fetch ok");
	is_str(g.url, want_url, "second fetch used /master/state.json");
	is_int(count_requests(b->log, "/master/state"), 1, "no new request to /master/state");
	is_int(count_requests(b->log, "/master/state.json"), 2, "went straight to /master/state.json");
	got_clear(&g);
}

static void test_errors(struct fetcher *f, struct master *a)
{
	struct got g = { 0 };
	char hostport[64];
	double t0;

	ok(spew_str(a->state, "HTTP500\n"), "master set to answer 500");
	start(f, a->hostport, &g);
	ok(run(10000), "fetch finishes");
	is_int(g.rc, MDNS_EHTTP, "HTTP 500 -> MDNS_EHTTP");
	is_int(g.status, 500, "status 500 reported");
	ok(g.body == NULL, "no body on error");
	ok(strstr(g.err, "500") != NULL, "err names the status: %s", g.err);
	got_clear(&g);

	snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", unused_port());
	start(f, hostport, &g);
	ok(run(10000), "fetch from a closed port finishes");
	is_int(g.rc, MDNS_ECURL, "connection refused -> MDNS_ECURL");
	is_int(g.status, 0, "no HTTP status");
	ok(g.err[0] && strstr(g.err, hostport), "err says where: %s", g.err);
	got_clear(&g);

	is_int(start(f, "", &g), MDNS_EINVAL, "empty hostport refused");
	is_int(start(f, "127.0.0.1:1/x?y", &g), MDNS_EINVAL, "hostport with a path refused");
	is_int(start(f, "user@127.0.0.1:1", &g), MDNS_EINVAL, "hostport with userinfo refused");
	is_int(fetcher_pending(f), 0, "refused fetches are not pending");
	ok(run(100) && g.calls == 0, "no callback for refused fetches");

	/* A master that accepts and never answers; stateTimeoutSeconds 1. */
	ok(spew_str(a->state, "HANG\n"), "master set to hang");
	t0 = now_s();
	start(f, a->hostport, &g);
	ok(run(10000), "hanging fetch finishes");
	is_int(g.rc, MDNS_ETIMEDOUT, "timeout -> MDNS_ETIMEDOUT (%s)", g.err);
	ok(now_s() - t0 >= 0.9 && now_s() - t0 < 2.5, "timed out after %.2f s (1 s wanted)",
	   now_s() - t0);
	got_clear(&g);
}

static void test_limits(struct fetcher *f, struct master *a)
{
	struct got g = { 0 };
	size_t len = 0;

	/* fake.json: 28 KB, about 2.3 KB gzipped. */
	fetcher_set_max_bytes(f, 1000);
	start(f, a->hostport, &g);
	ok(run(10000), "fetch finishes");
	is_int(g.rc, MDNS_ETOOBIG, "Content-Length over the limit -> MDNS_ETOOBIG (%s)", g.err);
	got_clear(&g);

	fetcher_set_max_bytes(f, 10000);
	start(f, a->hostport, &g);
	ok(run(10000), "fetch finishes");
	is_int(g.rc, MDNS_ETOOBIG, "decoded body over the limit -> MDNS_ETOOBIG (%s)", g.err);
	ok(g.body == NULL, "no body");
	got_clear(&g);

	free(slurp(a->state, &len));
	fetcher_set_max_bytes(f, len);
	start(f, a->hostport, &g);
	ok(run(10000), "fetch finishes");
	is_int(g.rc, 0, "body exactly at the limit is accepted (%s)", g.err);
	got_clear(&g);
	fetcher_set_max_bytes(f, FETCH_MAX_BYTES);
}

static void test_concurrent(struct fetcher *f, struct master *a, struct master *b)
{
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 }, g4 = { 0 };

	is_int(start(f, a->hostport, &g1), 0, "first fetch starts");
	is_int(start(f, b->hostport, &g2), 0, "second fetch starts");
	is_int(fetcher_pending(f), 2, "two fetches pending");
	ok(run(10000), "both finish");
	ok(g1.calls == 1 && g2.calls == 1, "each callback once");
	ok(g1.rc == 0 && body_is_file(&g1, a->state), "first body right (%s)", g1.err);
	ok(g2.rc == 0 && g2.body && strstr(g2.body, "\"frameworks\""), "second body right (%s)",
	   g2.err);
	got_clear(&g1);
	got_clear(&g2);

	/* A new fetch started from inside a callback. */
	g3.chain_f = f;
	g3.chain_hostport = b->hostport;
	g3.chain_got = &g4;
	start(f, a->hostport, &g3);
	ok(run(10000), "chained fetches finish");
	ok(g3.rc == 0 && g4.rc == 0, "both ok (%s / %s)", g3.err, g4.err);
	ok(g4.calls == 1 && !g4.sync, "chained callback called once, from the loop");
	got_clear(&g3);
	got_clear(&g4);
}

static void test_cancel(struct master *a, struct master *b, struct config *cfg)
{
	struct fetcher *f = fetcher_new(base, cfg);
	struct got g1 = { 0 }, g2 = { 0 };

	/* a hangs (see test_errors); b answers. */
	ok(f != NULL, "fetcher_new");
	start(f, a->hostport, &g1);
	ok(!run(300), "hanging fetch still in flight");
	fetcher_free(f);
	outstanding = 0;
	ok(run(200) && g1.calls == 0, "fetcher_free cancels without calling back");

	/* fetcher_free from inside a callback while another fetch is in flight. */
	f = fetcher_new(base, cfg);
	g2.free_f = f;
	start(f, a->hostport, &g1);
	start(f, b->hostport, &g2);
	ok(run(10000), "loop ends after the free");
	is_int(g2.calls, 1, "the answering fetch reported");
	is_int(g1.calls, 0, "the cancelled fetch never reports");
	got_clear(&g1);
	got_clear(&g2);
	fetcher_free(NULL);
	ok(1, "fetcher_free(NULL) returns (a crash would end the suite)");
}

/* HTTPS with our own CA, a client certificate, and basic authentication. */
static void test_tls_auth(void)
{
	char cert[300], key[300], cmd[1024], url[128];
	struct master t, u;
	struct config cfg;
	struct fetcher *f;
	struct got g = { 0 };

	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
		 key, cert);
	if (system(cmd) != 0) {
		printf("# skip TLS tests: openssl could not make a certificate\n");
		return;
	}
	{
		const char *extra[] = { "--tls-cert", cert, "--tls-key", key,
					"--tls-client-ca", cert, NULL };
		if (!ok(master_start(&t, "tls", extra), "TLS master started"))
			return;
	}
	{
		const char *extra[] = { "--basic-auth", "dns:s3cret", NULL };
		if (!ok(master_start(&u, "auth", extra), "auth master started")) {
			master_stop(&t);
			return;
		}
	}

	memset(&cfg, 0, sizeof(cfg));
	cfg.state_timeout_seconds = 5;
	cfg.mesos_https_on = true;
	cfg.ca_cert_file = cert;
	cfg.cert_file = cert;
	cfg.key_file = key;
	f = fetcher_new(base, &cfg);
	start(f, t.hostport, &g);
	ok(run(10000), "HTTPS fetch finishes");
	is_int(g.rc, 0, "HTTPS with CACertFile and client cert (%s)", g.err);
	snprintf(url, sizeof(url), "https://%s/master/state", t.hostport);
	is_str(g.url, url, "https URL");
	ok(body_is_file(&g, t.state), "body right over TLS");
	got_clear(&g);

	cfg.cert_file = cfg.key_file = (char *)"";
	start(f, t.hostport, &g);
	ok(run(10000), "fetch without client cert finishes");
	is_int(g.rc, MDNS_ECURL, "master wanting a client cert refuses (%s)", g.err);
	got_clear(&g);

	cfg.ca_cert_file = (char *)"";
	cfg.cert_file = cert;
	cfg.key_file = key;
	start(f, t.hostport, &g);
	ok(run(10000), "fetch without CACertFile finishes");
	is_int(g.rc, MDNS_ECURL, "unknown CA refused: verification is on (%s)", g.err);
	got_clear(&g);

	cfg.mesos_https_on = false;
	cfg.mesos_authentication = (char *)"basic";
	cfg.mesos_principal = (char *)"dns";
	cfg.mesos_secret = (char *)"s3cret";
	start(f, u.hostport, &g);
	ok(run(10000), "basic-auth fetch finishes");
	is_int(g.rc, 0, "basic auth accepted (%s)", g.err);
	got_clear(&g);

	cfg.mesos_secret = (char *)"wrong";
	start(f, u.hostport, &g);
	ok(run(10000), "fetch with a wrong secret finishes");
	is_int(g.rc, MDNS_EHTTP, "wrong secret -> MDNS_EHTTP");
	is_int(g.status, 401, "HTTP 401");
	got_clear(&g);

	fetcher_free(f);
	master_stop(&t);
	master_stop(&u);
}

int main(void)
{
	struct master a, b;
	struct config cfg;
	struct fetcher *f;
	char cmd[600];

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(tmpdir)) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	base = event_base_new();
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_timeout_seconds = 1;

	if (!ok(master_start(&a, "a", NULL), "fake master a started (run from the repo root)"))
		goto out;
	{
		const char *extra[] = { "--only-state-json", "--leader-rewrite", NULL };
		if (!ok(master_start(&b, "b", extra), "fake master b (old, state.json only) started")) {
			master_stop(&a);
			goto out;
		}
	}
	f = fetcher_new(base, &cfg);
	ok(f != NULL, "fetcher_new");
	test_basic(f, &a);
	test_fallback(f, &b);
	{
		size_t len;
		char *doc = slurp(STATE_FIXTURE, &len);
		ok(doc && spew(a.state, doc, len), "master a serves the fixture again");
		free(doc);
	}
	test_limits(f, &a);
	test_concurrent(f, &a, &b);
	test_errors(f, &a);	/* leaves a hanging */
	fetcher_free(f);
	test_cancel(&a, &b, &cfg);
	master_stop(&a);
	master_stop(&b);
	test_tls_auth();
out:
	event_base_free(base);
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return done_testing();
}
