/* lib/iam.h -- DC/OS IAM service-account login: account file, RS256 JWT, login reply. */
#pragma once

#include <stddef.h>

/*
 * The IAMConfigFile of behaviour.md §1.1: a DC/OS service account.  Strings
 * are malloc'd, owned by the struct, never NULL after a successful load;
 * release with iam_account_clear().
 */
struct iam_account {
	char *uid;			/* uid */
	char *private_key;		/* private_key, PEM (RSA) */
	char *login_endpoint;		/* login_endpoint, an http(s) URL */
};

/*
 * Parse the account JSON {"uid", "private_key", "login_endpoint"} (other
 * keys, such as "scheme", are ignored).  *out is treated as uninitialised.
 * Returns 0, MDNS_EPARSE / MDNS_EINVAL with a message in err (naming the key;
 * never the key material), or MDNS_ENOMEM.  On error *out holds nothing.
 */
int iam_account_parse(const char *json, size_t len, struct iam_account *out,
		      char *err, size_t errlen);

/* Read path (at most 1 MiB) and iam_account_parse it; a read error names the file. */
int iam_account_load(const char *path, struct iam_account *out, char *err, size_t errlen);

/* Free what a holds and zero it; NULL is fine. */
void iam_account_clear(struct iam_account *a);

/*
 * The login token of DC/OS: a JWT with header {"alg":"RS256","typ":"JWT"}
 * and claims {"uid": uid, "exp": exp}, signed with RSASSA-PKCS1-v1_5 SHA-256
 * under the PEM private key pem (PKCS#8 or PKCS#1; RSA only).  *out is a
 * malloc'd NUL-terminated "header.claims.signature" (base64url, no padding),
 * caller frees.  Returns 0, MDNS_EINVAL (key unreadable or not RSA; err says
 * which) or MDNS_ENOMEM.
 */
int iam_jwt_rs256(const char *uid, long long exp, const char *pem, char **out,
		  char *err, size_t errlen);

/* The login request body {"uid": uid, "token": jwt}; malloc'd, caller frees; NULL on no memory. */
char *iam_login_body(const char *uid, const char *jwt);

/*
 * The "token" of a login reply body (JSON object).  *token is malloc'd,
 * caller frees.  Returns 0 or MDNS_EPARSE with a message in err.
 */
int iam_login_reply(const char *body, size_t len, char **token, char *err, size_t errlen);

/*
 * The "exp" claim of a JWT (seconds since the epoch), without checking its
 * signature: only used to know when to log in again.  Returns -1 when token
 * is not a JWT or has no integer exp.
 */
long long iam_token_exp(const char *token);

/*
 * base64url without padding (RFC 7515 §2) of n bytes into a malloc'd
 * string; NULL on no memory.  Exposed for tests.
 */
char *iam_b64url(const unsigned char *p, size_t n);
