/* lib/zonepub.h -- publish zones to the answering threads with RCU. */
#pragma once

struct zone;

/*
 * One published zone pointer.  Readers (DNS workers) call zonepub_reader_*
 * around each use; the control thread swaps in a new zone with
 * zonepub_publish, which frees the old one only after every reader has left
 * it (liburcu's memb flavour: readers never block, never take a lock).
 */

/* Set the initial zone (owned from now on).  Call once before any reader starts. */
void zonepub_init(struct zone *initial);

/* Publish z (owned from now on); frees the previous zone after a grace period. */
void zonepub_publish(struct zone *z);

/* The current zone for the control thread (the only writer); borrowed until
 * its next zonepub_publish. */
const struct zone *zonepub_current(void);

/* Free the current zone at shutdown, after every reader thread has stopped. */
void zonepub_shutdown(void);

/* Reader side: every thread that reads registers once. */
void zonepub_reader_register(void);
void zonepub_reader_unregister(void);

/* Enter/leave a read-side section; the returned zone is valid until leave. */
const struct zone *zonepub_reader_enter(void);
void zonepub_reader_leave(void);
