/* lib/zonepub.c -- publish zones to the answering threads with RCU. */
#include "lib/zonepub.h"

#include <urcu.h>

#include "zone/zone.h"

/* Knot publishes its zone database the same way: rcu_xchg_pointer, then
 * synchronize_rcu, then free.  Readers pay two thread-local counter updates. */
static struct zone *current;

void zonepub_init(struct zone *initial)
{
	rcu_assign_pointer(current, initial);
}

void zonepub_publish(struct zone *z)
{
	struct zone *old = rcu_xchg_pointer(&current, z);
	synchronize_rcu();
	zone_free(old);
}

const struct zone *zonepub_current(void)
{
	/* The control thread is the only writer, so a plain load is stable. */
	return CMM_LOAD_SHARED(current);
}

void zonepub_shutdown(void)
{
	struct zone *old = rcu_xchg_pointer(&current, NULL);
	synchronize_rcu();
	zone_free(old);
}

void zonepub_reader_register(void)
{
	rcu_register_thread();
}

void zonepub_reader_unregister(void)
{
	rcu_unregister_thread();
}

const struct zone *zonepub_reader_enter(void)
{
	rcu_read_lock();
	return rcu_dereference(current);
}

void zonepub_reader_leave(void)
{
	rcu_read_unlock();
}
