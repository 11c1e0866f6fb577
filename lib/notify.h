/* lib/notify.h -- NOTIFY (RFC 1996) to the secondaries when a zone's serial changes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct config;
struct event_base;
struct notifier;
struct zone;

/*
 * NOTIFY sender on base (the control thread's loop).  Targets: cfg->notify,
 * or when that is empty each single address (/32, /128) of cfg->transfer_to
 * on port 53.  With no target at all it is created and sends nothing.  Reads
 * cfg only here.  NULL with a message in err when a target is unusable or a
 * socket cannot be opened.
 */
struct notifier *notifier_new(struct event_base *base, const struct config *cfg, char *err,
			      size_t errlen);

/* Number of targets. */
size_t notifier_targets(const struct notifier *n);

/*
 * Tell every target that zone z (a main or a reverse zone, loaded) now has
 * its current serial: a NOTIFY with the apex SOA is sent at once and again
 * after 1, 2, 4 and 8 s until the target answers (5 tries, then a warning).
 * A NOTIFY still unanswered for the same zone is replaced.  The message is
 * built now: nothing of z is kept.  Control thread only.
 */
void notifier_send(struct notifier *n, const struct zone *z);

/*
 * Ask every target for its SOA serial of each zone in apexes (text names; one
 * UDP query each, answers awaited for at most timeout_ms), then call
 * done(ctx) on the loop.  A restarted primary publishes above the highest
 * serial found (notifier_serial_floor): its own serials follow the clock and
 * may have run ahead of it before the restart, and a secondary that already
 * holds a serial at or above ours would never transfer the new content.  With
 * no target, done is called at once (still on the loop).  One probe at a time.
 */
void notifier_probe(struct notifier *n, const char *const *apexes, size_t napexes, int timeout_ms,
		    void (*done)(void *ctx), void *ctx);

/* The highest serial the probe heard of; 0 when none answered. */
uint32_t notifier_serial_floor(const struct notifier *n);

/* NOTIFYs sent and not answered yet (still being retried). */
size_t notifier_pending(const struct notifier *n);

/* Stop retrying, close the sockets and free; NULL is a no-op. */
void notifier_free(struct notifier *n);
