/* lib/clock.h -- seconds as doubles: the monotonic clock, timespecs, libevent timeouts. */
#pragma once

#include <sys/time.h>
#include <time.h>

static inline double clock_sec(const struct timespec *ts)
{
	return (double)ts->tv_sec + (double)ts->tv_nsec * 1e-9;
}

/* CLOCK_MONOTONIC now, in seconds. */
static inline double clock_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return clock_sec(&ts);
}

/* s seconds (negative: 0) as a timeval for evtimer_add. */
static inline struct timeval clock_tv(double s)
{
	struct timeval tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}
