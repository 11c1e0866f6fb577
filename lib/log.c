/* lib/log.c -- leveled logging to stderr. */
#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

_Atomic enum log_level log_threshold = LOG_LEVEL_INFO;

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	char line[2048];
	va_list ap;
	int n;

	if (level > log_threshold)
		return;
	n = snprintf(line, sizeof(line), "%s: ", names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs of a whole line keeps lines from threads unmixed. */
	fprintf(stderr, "%s\n", line);
}
