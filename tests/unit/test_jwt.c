/* tests/unit/test_jwt.c -- IAM login pieces: the RS256 JWT (verified with OpenSSL), account file, replies. */
#include "lib/iam.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "tests/unit/tap.h"

/* ---- helpers ----------------------------------------------------------------- */

/* A PEM (PKCS#8) of a fresh key made with EVP; caller frees. */
static char *pem_of(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1) {
		n = BIO_get_mem_data(b, &data);
		out = strndup(data, (size_t)n);
	}
	BIO_free(b);
	return out;
}

static unsigned char *b64url_dec(const char *s, size_t n, size_t *outlen)
{
	/* Translate to standard base64 with padding and let OpenSSL decode it. */
	size_t pad = (4 - n % 4) % 4;
	char *t = malloc(n + pad + 1);
	unsigned char *out = malloc(n + 4);
	for (size_t i = 0; i < n; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	memset(t + n, '=', pad);
	t[n + pad] = '\0';
	int len = EVP_DecodeBlock(out, (unsigned char *)t, (int)(n + pad));
	free(t);
	if (len < 0) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)len - pad;
	return out;
}

/* Verify an RS256 JWT against the public half of k, as an IAM server would. */
static int verify_rs256(const char *jwt, EVP_PKEY *k)
{
	const char *d2 = strrchr(jwt, '.');
	size_t siglen = 0;
	unsigned char *sig;
	int good;

	if (!d2)
		return 0;
	sig = b64url_dec(d2 + 1, strlen(d2 + 1), &siglen);
	if (!sig)
		return 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	good = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
	       EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt,
				(size_t)(d2 - jwt)) == 1;
	EVP_MD_CTX_free(md);
	free(sig);
	return good;
}

static json_t *part_json(const char *jwt, int idx)
{
	const char *p = jwt;
	for (int i = 0; i < idx; i++)
		p = strchr(p, '.') + 1;
	const char *e = strchr(p, '.');
	size_t n = 0;
	unsigned char *raw = b64url_dec(p, e ? (size_t)(e - p) : strlen(p), &n);
	json_t *j = raw ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
	free(raw);
	return j;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_b64url(void)
{
	char *s;

	s = iam_b64url((const unsigned char *)"", 0);
	is_str(s, "", "base64url of nothing");
	free(s);
	s = iam_b64url((const unsigned char *)"f", 1);
	is_str(s, "Zg", "base64url of 1 byte, no padding");
	free(s);
	s = iam_b64url((const unsigned char *)"fo", 2);
	is_str(s, "Zm8", "base64url of 2 bytes, no padding");
	free(s);
	s = iam_b64url((const unsigned char *)"foo", 3);
	is_str(s, "Zm9v", "base64url of 3 bytes");
	free(s);
	s = iam_b64url((const unsigned char *)"\xfb\xff\xfe", 3);
	is_str(s, "-__-", "base64url uses - and _");
	free(s);
}

static void test_jwt(void)
{
	char err[256], *jwt = NULL;
	EVP_PKEY *k = EVP_RSA_gen(2048), *other = EVP_RSA_gen(2048);
	char *pem = pem_of(k);

	ok(k && other && pem, "two fresh RSA keys");
	ok(iam_jwt_rs256("dcos-dns", 1700003600, pem, &jwt, err, sizeof(err)) == 0,
	   "a JWT is signed");
	ok(jwt && strchr(jwt, '.') && strchr(strchr(jwt, '.') + 1, '.'), "it has three parts");
	ok(jwt && !strpbrk(jwt, "+/="), "its parts are base64url without padding");
	json_t *h = jwt ? part_json(jwt, 0) : NULL, *c = jwt ? part_json(jwt, 1) : NULL;
	is_str(json_string_value(json_object_get(h, "alg")), "RS256", "header alg RS256");
	is_str(json_string_value(json_object_get(h, "typ")), "JWT", "header typ JWT");
	is_str(json_string_value(json_object_get(c, "uid")), "dcos-dns", "claim uid");
	is_int(json_integer_value(json_object_get(c, "exp")), 1700003600, "claim exp");
	json_decref(h);
	json_decref(c);
	ok(jwt && verify_rs256(jwt, k), "the signature verifies with the public key (EVP)");
	ok(jwt && !verify_rs256(jwt, other), "and not with another key");
	is_int(iam_token_exp(jwt), 1700003600, "iam_token_exp reads our own exp back");

	/* A changed claim breaks the signature. */
	if (jwt) {
		char *bad = strdup(jwt);
		char *p = strchr(bad, '.') + 3;
		*p = *p == 'A' ? 'B' : 'A';
		ok(!verify_rs256(bad, k), "a tampered claim does not verify");
		free(bad);
	}
	free(jwt);

	/* The same key as PKCS#1 ("BEGIN RSA PRIVATE KEY") is read too. */
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL);
	long n = BIO_get_mem_data(b, &data);
	char *pkcs1 = strndup(data, (size_t)n);
	BIO_free(b);
	ok(strstr(pkcs1, "BEGIN RSA PRIVATE KEY") != NULL, "a PKCS#1 PEM of the key");
	ok(iam_jwt_rs256("u", 1, pkcs1, &jwt, err, sizeof(err)) == 0 && verify_rs256(jwt, k),
	   "a PKCS#1 key signs a verifiable JWT");
	free(jwt);
	free(pkcs1);

	ok(iam_jwt_rs256("u", 1, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
			 &jwt, err, sizeof(err)) == MDNS_EINVAL && jwt == NULL,
	   "a broken PEM -> EINVAL");
	ok(strstr(err, "private_key") != NULL, "the message names private_key: %s", err);
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	char *ecpem = pem_of(ec);
	ok(iam_jwt_rs256("u", 1, ecpem, &jwt, err, sizeof(err)) == MDNS_EINVAL &&
	   strstr(err, "RSA") != NULL, "an EC key -> EINVAL naming RSA");
	free(ecpem);
	EVP_PKEY_free(ec);
	free(pem);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void test_account(void)
{
	struct iam_account a;
	char err[256];
	const char *good = "{\"scheme\":\"RS256\",\"uid\":\"svc\",\"private_key\":\"-----BEGIN...\","
			   "\"login_endpoint\":\"https://leader.mesos/acs/api/v1/auth/login\"}";

	ok(iam_account_parse(good, strlen(good), &a, err, sizeof(err)) == 0, "an account parses");
	is_str(a.uid, "svc", "uid");
	is_str(a.login_endpoint, "https://leader.mesos/acs/api/v1/auth/login", "login_endpoint");
	iam_account_clear(&a);
	iam_account_clear(&a);

	const char *bad[] = {
		"{\"private_key\":\"k\",\"login_endpoint\":\"http://x\"}",
		"{\"uid\":\"\",\"private_key\":\"k\",\"login_endpoint\":\"http://x\"}",
		"{\"uid\":\"u\",\"private_key\":7,\"login_endpoint\":\"http://x\"}",
		"{\"uid\":\"u\",\"private_key\":\"k\",\"login_endpoint\":\"ftp://x\"}",
		"[1]", "{",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = iam_account_parse(bad[i], strlen(bad[i]), &a, err, sizeof(err));
		ok((rc == MDNS_EINVAL || rc == MDNS_EPARSE) && a.uid == NULL &&
		   strncmp(err, "IAM account", 11) == 0, "bad account %zu refused: %s", i, err);
	}

	char path[] = "/tmp/test_jwt.XXXXXX";
	int fd = mkstemp(path);
	ok(fd >= 0 && write(fd, good, strlen(good)) == (ssize_t)strlen(good), "account file written");
	close(fd);
	ok(iam_account_load(path, &a, err, sizeof(err)) == 0 && strcmp(a.uid, "svc") == 0,
	   "iam_account_load reads it");
	iam_account_clear(&a);
	unlink(path);
	ok(iam_account_load(path, &a, err, sizeof(err)) == MDNS_ENOENT && strstr(err, path),
	   "a missing file -> ENOENT naming it");
}

static void test_replies(void)
{
	char err[256], *tok = NULL;
	const char *r = "{\"token\":\"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.sig\"}";

	ok(iam_login_reply(r, strlen(r), &tok, err, sizeof(err)) == 0, "a login reply parses");
	is_str(tok, "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.sig", "its token");
	is_int(iam_token_exp(tok), 4102444800LL, "the token's exp claim is read");
	free(tok);
	ok(iam_login_reply("{}", 2, &tok, err, sizeof(err)) == MDNS_EPARSE && !tok,
	   "no token -> EPARSE");
	ok(iam_login_reply("{\"token\":\"a\\r\\nX: y\"}", 20, &tok, err, sizeof(err)) ==
	   MDNS_EPARSE, "a token with CR LF (header injection) is refused");
	ok(iam_login_reply("<html>", 6, &tok, err, sizeof(err)) == MDNS_EPARSE, "HTML -> EPARSE");
	is_int(iam_token_exp("opaque-token"), -1, "an opaque token has no exp");
	is_int(iam_token_exp("a.!!!.c"), -1, "a broken JWT has no exp");
	is_int(iam_token_exp("a.eyJ1aWQiOiJ4In0.c"), -1, "a JWT without exp has none");

	char *body = iam_login_body("svc", "a.b.c");
	is_str(body, "{\"uid\":\"svc\",\"token\":\"a.b.c\"}", "the login body");
	free(body);
}

int main(void)
{
	test_b64url();
	test_jwt();
	test_account();
	test_replies();
	return done_testing();
}
