/* lib/statesax.h -- one-pass, tree-less parse of /master/state (yajl). */
#pragma once

#include <stddef.h>

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
