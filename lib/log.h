/* lib/log.h -- leveled logging to stderr, one line per event. */
#pragma once

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Current threshold; messages above it are not formatted at all.  Atomic:
 * a configuration reload changes it while every thread logs. */
extern _Atomic enum log_level log_threshold;

/* Set the threshold from mesos-dns verbosity: 0 -> info, 1 -> debug... */
void log_set_level(enum log_level level);

/* Log one line "<level> <module>: <message>" to stderr.  Thread-safe. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  do { if (log_threshold >= LOG_LEVEL_WARN) log_msg(LOG_LEVEL_WARN, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_threshold >= LOG_LEVEL_INFO) log_msg(LOG_LEVEL_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_threshold >= LOG_LEVEL_DEBUG) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)
