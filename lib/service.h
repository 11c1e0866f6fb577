/* lib/service.h -- talking to the service manager (systemd) and dropping root. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Send a state line to the service manager (sd_notify(3): "READY=1",
 * "STATUS=...", "WATCHDOG=1", "RELOADING=1", "STOPPING=1"), formatted like
 * printf.  A no-op outside systemd (no $NOTIFY_SOCKET).  Returns > 0 when
 * sent, 0 when there is no manager, a negative errno on failure.  Any thread.
 */
int service_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The watchdog interval the manager expects pings within ($WATCHDOG_USEC, for
 * this process), in microseconds, or 0 when no watchdog is set.
 */
uint64_t service_watchdog_usec(void);

/*
 * Switch the whole process (every thread) to user: its supplementary groups
 * (initgroups), its group, then its uid, keeping no capability; then check
 * that root cannot be regained.  Nothing to do when already running as that
 * user.  Returns 0, or a negative error with a message in err (no such user,
 * not running as root, a failed call).
 */
int service_drop_privileges(const char *user, char *err, size_t errlen);
