/* lib/zonepub.c -- publish zones to the answering threads with RCU. */
#include "lib/zonepub.h"

#include <urcu.h>

#include "zone/zone.h"

/*
 * ThreadSanitizer cannot see liburcu's orderings: rcu_xchg_pointer is an
 * inline-asm xchg, and synchronize_rcu waits for the readers with membarrier
 * and loads inside liburcu, which is not instrumented.  Without help it
 * reports every zone as racing with the workers that read it.  Under TSan
 * (`make test-tsan`) the two orderings RCU guarantees are stated instead:
 * publishing releases the new zone to the readers that dereference it, and a
 * reader leaving releases what it read to the grace period that waits for it.
 * A reader that keeps using a zone after leaving is still reported (its
 * accesses are not ordered before the free).  No-ops in other builds.
 */
#if defined(__SANITIZE_THREAD__)
#define ZONEPUB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZONEPUB_TSAN 1
#endif
#endif
#ifdef ZONEPUB_TSAN
#include <sanitizer/tsan_interface.h>
static char grace;	/* the readers' side of the grace period, for TSan */
#define tsan_release(p) __tsan_release(p)
#define tsan_acquire(p) __tsan_acquire(p)
#else
#define tsan_release(p) ((void)0)
#define tsan_acquire(p) ((void)0)
#endif

/* Knot publishes its zone database the same way: rcu_xchg_pointer, then
 * synchronize_rcu, then free.  Readers pay two thread-local counter updates. */
static struct zone *current;

void zonepub_init(struct zone *initial)
{
	rcu_assign_pointer(current, initial);
}

void zonepub_publish(struct zone *z)
{
	tsan_release(&current);
	struct zone *old = rcu_xchg_pointer(&current, z);
	synchronize_rcu();
	tsan_acquire(&grace);
	zone_free(old);
}

const struct zone *zonepub_current(void)
{
	/* The control thread is the only writer, so a plain load is stable. */
	return CMM_LOAD_SHARED(current);
}

void zonepub_shutdown(void)
{
	zonepub_publish(NULL);
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
	struct zone *z = rcu_dereference(current);
	tsan_acquire(&current);
	return z;
}

void zonepub_reader_leave(void)
{
	tsan_release(&grace);
	rcu_read_unlock();
}
