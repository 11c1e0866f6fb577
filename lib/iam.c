/* lib/iam.c -- DC/OS IAM service-account login: account file, RS256 JWT, login reply. */
#include "lib/iam.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

#define IAM_FILE_MAX (1024 * 1024)

/* ---- the account file ------------------------------------------------------ */

void iam_account_clear(struct iam_account *a)
{
	if (!a)
		return;
	free(a->uid);
	if (a->private_key) {
		/* Key material does not linger in freed memory. */
		OPENSSL_cleanse(a->private_key, strlen(a->private_key));
		free(a->private_key);
	}
	free(a->login_endpoint);
	memset(a, 0, sizeof(*a));
}

static int iam_field(json_t *root, const char *key, char **dst, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);

	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		mdns_set_err(err, errlen, "IAM account: \"%s\" is missing or not a non-empty string", key);
		return MDNS_EINVAL;
	}
	*dst = strdup(json_string_value(v));
	return *dst ? 0 : MDNS_ENOMEM;
}

int iam_account_parse(const char *json, size_t len, struct iam_account *out,
		      char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(out, 0, sizeof(*out));
	root = json_loadb(json, len, 0, &jerr);
	if (!root || !json_is_object(root)) {
		if (root)
			mdns_set_err(err, errlen, "IAM account: the document is not an object");
		else
			mdns_set_err(err, errlen, "IAM account: %s at line %d, column %d", jerr.text,
				jerr.line, jerr.column);
		json_decref(root);
		return MDNS_EPARSE;
	}
	if ((rc = iam_field(root, "uid", &out->uid, err, errlen)) == 0 &&
	    (rc = iam_field(root, "private_key", &out->private_key, err, errlen)) == 0 &&
	    (rc = iam_field(root, "login_endpoint", &out->login_endpoint, err, errlen)) == 0 &&
	    strncmp(out->login_endpoint, "http://", 7) != 0 &&
	    strncmp(out->login_endpoint, "https://", 8) != 0) {
		mdns_set_err(err, errlen, "IAM account: \"login_endpoint\" is not an http(s) URL");
		rc = MDNS_EINVAL;
	}
	json_decref(root);
	if (rc)
		iam_account_clear(out);
	return rc;
}

int iam_account_load(const char *path, struct iam_account *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!f) {
		rc = -errno;
		mdns_set_err(err, errlen, "IAMConfigFile %s: %s", path, strerror(errno));
		return rc;
	}
	buf = malloc(IAM_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return MDNS_ENOMEM;
	}
	n = fread(buf, 1, IAM_FILE_MAX + 1, f);
	if (ferror(f) || n > IAM_FILE_MAX) {
		mdns_set_err(err, errlen, "IAMConfigFile %s: %s", path,
			ferror(f) ? "read error" : "larger than 1 MiB");
		rc = ferror(f) ? MDNS_EINVAL : MDNS_ETOOBIG;
	} else {
		char why[256];
		rc = iam_account_parse(buf, n, out, why, sizeof(why));
		if (rc)
			mdns_set_err(err, errlen, "IAMConfigFile %s: %s", path, why);
	}
	fclose(f);
	OPENSSL_cleanse(buf, n < IAM_FILE_MAX + 1 ? n : IAM_FILE_MAX + 1);
	free(buf);
	return rc;
}

/* ---- base64url ---------------------------------------------------------- */

char *iam_b64url(const unsigned char *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(n / 3 * 4 + 5);
	size_t o = 0, i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
	}
	out[o] = '\0';
	return out;
}

static int b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

/* Decode n characters of base64url (padding optional) into a malloc'd buffer. */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
	unsigned char *out;
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return NULL;
	out = malloc(n / 4 * 3 + 3);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_val(s[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	*outlen = o;
	return out;
}

/* ---- the JWT ----------------------------------------------------------------- */

/* The first OpenSSL error as text, for a message a person can act on. */
static const char *ossl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	ERR_clear_error();
	if (!e)
		return "unknown OpenSSL error";
	ERR_error_string_n(e, buf, len);
	return buf;
}

int iam_jwt_rs256(const char *uid, long long exp, const char *pem, char **out,
		  char *err, size_t errlen)
{
	static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	char why[256];
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	BIO *bio = NULL;
	json_t *claims = NULL;
	char *claims_text = NULL, *h64 = NULL, *c64 = NULL, *s64 = NULL, *input = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc = MDNS_ENOMEM;

	*out = NULL;
	ERR_clear_error();
	bio = BIO_new_mem_buf(pem, -1);
	if (!bio)
		goto out;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!pkey) {
		mdns_set_err(err, errlen, "IAM private_key: not a readable PEM private key (%s)",
			ossl_reason(why, sizeof(why)));
		rc = MDNS_EINVAL;
		goto out;
	}
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		mdns_set_err(err, errlen, "IAM private_key: not an RSA key (RS256 needs one)");
		rc = MDNS_EINVAL;
		goto out;
	}
	claims = json_pack("{s:s, s:I}", "uid", uid, "exp", (json_int_t)exp);
	if (!claims || !(claims_text = json_dumps(claims, JSON_COMPACT)))
		goto out;
	h64 = iam_b64url((const unsigned char *)header, sizeof(header) - 1);
	c64 = iam_b64url((const unsigned char *)claims_text, strlen(claims_text));
	if (!h64 || !c64)
		goto out;
	size_t inlen = strlen(h64) + 1 + strlen(c64);
	input = malloc(inlen + 1);
	if (!input)
		goto out;
	snprintf(input, inlen + 1, "%s.%s", h64, c64);

	md = EVP_MD_CTX_new();
	if (!md)
		goto out;
	/* RSA keys sign with PKCS#1 v1.5 padding by default: what RS256 is. */
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, inlen) != 1)
		goto sign_failed;
	sig = malloc(siglen);
	if (!sig)
		goto out;
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, inlen) != 1)
		goto sign_failed;
	s64 = iam_b64url(sig, siglen);
	if (!s64)
		goto out;
	size_t total = inlen + 1 + strlen(s64);
	*out = malloc(total + 1);
	if (!*out)
		goto out;
	snprintf(*out, total + 1, "%s.%s", input, s64);
	rc = 0;
	goto out;
sign_failed:
	mdns_set_err(err, errlen, "IAM: signing the JWT failed (%s)", ossl_reason(why, sizeof(why)));
	rc = MDNS_EINVAL;
out:
	if (rc == MDNS_ENOMEM)
		mdns_set_err(err, errlen, "IAM: out of memory building the JWT");
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	json_decref(claims);
	free(claims_text);
	free(h64);
	free(c64);
	free(s64);
	free(input);
	free(sig);
	return rc;
}

char *iam_login_body(const char *uid, const char *jwt)
{
	json_t *o = json_pack("{s:s, s:s}", "uid", uid, "token", jwt);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

int iam_login_reply(const char *body, size_t len, char **token, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);
	json_t *t = json_object_get(root, "token");
	int rc = MDNS_EPARSE;

	*token = NULL;
	if (!root)
		mdns_set_err(err, errlen, "login reply: %s at line %d, column %d", jerr.text, jerr.line,
			jerr.column);
	else if (!json_is_string(t) || json_string_length(t) == 0)
		mdns_set_err(err, errlen, "login reply: no \"token\" string");
	else {
		const char *s = json_string_value(t);
		/* The token goes into an HTTP header: refuse anything that could split it. */
		for (const char *p = s; *p; p++)
			if ((unsigned char)*p < 0x21 || *p == 0x7f) {
				mdns_set_err(err, errlen, "login reply: the token has a control character");
				goto out;
			}
		*token = strdup(s);
		rc = *token ? 0 : MDNS_ENOMEM;
	}
out:
	json_decref(root);
	return rc;
}

long long iam_token_exp(const char *token)
{
	const char *d1 = strchr(token, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	unsigned char *claims;
	size_t n = 0;
	long long exp = -1;

	if (!d1 || !d2)
		return -1;
	claims = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &n);
	if (!claims)
		return -1;
	json_t *root = json_loadb((const char *)claims, n, 0, NULL);
	json_t *v = json_object_get(root, "exp");
	if (json_is_integer(v))
		exp = json_integer_value(v);
	else if (json_is_real(v))
		exp = (long long)json_real_value(v);
	json_decref(root);
	free(claims);
	return exp;
}
