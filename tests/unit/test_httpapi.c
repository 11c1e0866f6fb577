/* tests/unit/test_httpapi.c -- the HTTP API's path router (httpapi_route). */
#include <string.h>

#include "lib/httpapi.h"
#include "tests/unit/tap.h"

static enum httpapi_route route(const char *path, char *arg)
{
	return httpapi_route(path, strlen(path), arg, 256);
}

static void test_routes(void)
{
	static const struct { const char *path; enum httpapi_route r; } fixed[] = {
		{ "/v1/version", HTTPAPI_VERSION }, { "/v1/config", HTTPAPI_CONFIG },
		{ "/v1/enumerate", HTTPAPI_ENUMERATE }, { "/v1/axfr", HTTPAPI_AXFR },
		{ "/metrics", HTTPAPI_METRICS }, { "/health", HTTPAPI_HEALTH },
		{ "/ready", HTTPAPI_READY }, { "/", HTTPAPI_NOT_FOUND },
		{ "/v1", HTTPAPI_NOT_FOUND }, { "/v1/", HTTPAPI_NOT_FOUND },
		{ "/v1/version/", HTTPAPI_NOT_FOUND }, { "//v1/version", HTTPAPI_NOT_FOUND },
		{ "/V1/VERSION", HTTPAPI_NOT_FOUND }, { "/v1/hosts", HTTPAPI_NOT_FOUND },
		{ "/v1/hosts/", HTTPAPI_NOT_FOUND }, { "/v1/hosts/a/portz", HTTPAPI_NOT_FOUND },
		{ "/v1/services/a/ports", HTTPAPI_NOT_FOUND },
		{ "/v1/hosts/../../etc/passwd", HTTPAPI_NOT_FOUND },
		{ "/a/b/c/d/e/f/g/h", HTTPAPI_NOT_FOUND }, { "v1/version", HTTPAPI_BAD_REQUEST },
		{ "", HTTPAPI_BAD_REQUEST }, { "/v1/%76ersion", HTTPAPI_VERSION },
		{ "/v1/hosts/%2e%2e", HTTPAPI_BAD_REQUEST }, { "/v1/hosts/a%2Fb", HTTPAPI_BAD_REQUEST },
		{ "/v1/hosts/a%00b", HTTPAPI_BAD_REQUEST }, { "/v1/hosts/%zz", HTTPAPI_BAD_REQUEST },
		{ "/v1/hosts/ab%4", HTTPAPI_BAD_REQUEST }, { "/v1/hosts/ab%", HTTPAPI_BAD_REQUEST },
		{ "/v1/hosts/\xff\xfe", HTTPAPI_BAD_REQUEST }, { "/v1/hosts/a..b", HTTPAPI_BAD_REQUEST },
		{ "/v1/hosts/.", HTTPAPI_BAD_REQUEST }, { "/v1/hosts/.a", HTTPAPI_BAD_REQUEST },
		{ "/v1/hosts/a b", HTTPAPI_BAD_REQUEST }, { "/v1/hosts/*.mesos", HTTPAPI_BAD_REQUEST },
	};
	char arg[256];

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		enum httpapi_route r = route(fixed[i].path, arg);
		is_int(r, fixed[i].r, "route '%s'", fixed[i].path);
	}
	is_int(httpapi_route("/v1/hosts/a\0b", 12, arg, sizeof(arg)), HTTPAPI_BAD_REQUEST,
	       "a raw NUL in the path");
	is_int(httpapi_route("/v1/version-and-more", 11, arg, sizeof(arg)), HTTPAPI_VERSION,
	       "only len bytes are read");
}

static void test_names(void)
{
	char arg[256], path[600];

	is_int(route("/v1/hosts/nginx.marathon.mesos", arg), HTTPAPI_HOSTS, "hosts");
	is_str(arg, "nginx.marathon.mesos", "hosts: the name");
	is_int(route("/v1/hosts/Nginx.Marathon.mesos./ports", arg), HTTPAPI_HOST_PORTS, "ports");
	is_str(arg, "Nginx.Marathon.mesos.", "ports: the name as written (case, dot)");
	is_int(route("/v1/services/_liquor-store._tcp.marathon.mesos", arg), HTTPAPI_SERVICES,
	       "services");
	is_str(arg, "_liquor-store._tcp.marathon.mesos", "services: the name");
	is_int(route("/v1/services/%5Fhttp._tcp.mesos", arg), HTTPAPI_SERVICES,
	       "an escaped character in a name");
	is_str(arg, "_http._tcp.mesos", "the name is decoded");
	is_int(route("/v1/version", arg), HTTPAPI_VERSION, "a route without a name");
	is_str(arg, "", "leaves arg empty");

	/* Label of 63 is fine, 64 is not; a 253-byte name is fine, 254 + dot too, 255 not. */
	snprintf(path, sizeof(path), "/v1/hosts/%.63s.mesos", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	is_int(route(path, arg), HTTPAPI_HOSTS, "63-byte label");
	snprintf(path, sizeof(path), "/v1/hosts/%.64s.mesos", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	is_int(route(path, arg), HTTPAPI_BAD_REQUEST, "64-byte label");
	char name[300];
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 4; i++)
		strcat(name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");	/* 63 each */
	strcat(name, "b");	/* 253 */
	snprintf(path, sizeof(path), "/v1/hosts/%s", name);
	is_int(route(path, arg), HTTPAPI_HOSTS, "253-byte name");
	snprintf(path, sizeof(path), "/v1/hosts/%s.", name);
	is_int(route(path, arg), HTTPAPI_HOSTS, "253-byte name with its trailing dot");
	snprintf(path, sizeof(path), "/v1/hosts/%sc", name);
	is_int(route(path, arg), HTTPAPI_BAD_REQUEST, "254-byte name");
}

int main(void)
{
	test_routes();
	test_names();
	return done_testing();
}
