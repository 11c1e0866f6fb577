/* lib/statesax.h -- one-pass, tree-less parse of /master/state (yajl). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct mesos_state;

/*
 * Parse a /master/state document straight into the model of lib/state.h,
 * streaming, without a JSON tree: memory stays proportional to the model,
 * not the document.  Same contract as state_parse() (which calls it):
 * 0 and *out set (caller frees with state_free), or MDNS_EPARSE /
 * MDNS_ENOLEADER / MDNS_ENOMEM with one line in err.
 */
int statesax_parse(const char *json, size_t len, struct mesos_state **out,
		   char *err, size_t errlen);

/*
 * The same parse fed in pieces, for a document read from a file a chunk at
 * a time (the whole text is never in memory).  statesax_begin returns NULL
 * when out of memory; statesax_feed returns 0 or the first error (feeding
 * after an error does nothing); statesax_end always frees the parse and
 * returns what statesax_parse would have for the concatenated chunks.
 */
struct statesax;
struct statesax *statesax_begin(void);
int statesax_feed(struct statesax *s, const char *chunk, size_t len);
int statesax_end(struct statesax *s, struct mesos_state **out, char *err, size_t errlen);

/*
 * This process's hash seed, drawn at random once: for hashes compared only
 * within the process (the model's fingerprint, a polled body's hash).  XXH3
 * is no cryptographic hash; a secret seed means that no document can be
 * prepared beforehand to collide with another.
 */
uint64_t statesax_seed(void);
