/* lib/service.c -- talking to the service manager (systemd) and dropping root. */
#include "lib/service.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "lib/err.h"
#include "lib/log.h"

int service_notify(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Keep $NOTIFY_SOCKET: the daemon notifies for its whole life. */
	return sd_notify(0, line);
}

uint64_t service_watchdog_usec(void)
{
	uint64_t usec = 0;

	/* Checks $WATCHDOG_PID too, so a child started by us never pings. */
	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}

int service_drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);

	if (rc != 0 || !res) {
		snprintf(err, errlen, "main: -user %s: %s", user,
			 rc ? strerror(rc) : "no such user");
		return rc ? -rc : MDNS_ENOENT;
	}
	if (geteuid() == pw.pw_uid && getuid() == pw.pw_uid && getegid() == pw.pw_gid)
		return 0;
	if (geteuid() != 0) {
		snprintf(err, errlen, "main: -user %s: cannot switch users when not started as root",
			 user);
		return -EPERM;
	}
	/* The zone builder, started while we were root, runs full rebuilds at
	 * SCHED_IDLE and is raised to SCHED_BATCH when starved (lib/refresh.c):
	 * after the switch that takes an RLIMIT_NICE of 20, which only root
	 * can grant (LimitNICE=+0 does it under the unit). */
	struct rlimit rn;
	if (getrlimit(RLIMIT_NICE, &rn) == 0 && rn.rlim_cur < 20) {
		rn.rlim_cur = 20;
		if (rn.rlim_max < 20)
			rn.rlim_max = 20;
		if (setrlimit(RLIMIT_NICE, &rn) != 0)	/* no CAP_SYS_RESOURCE */
			log_info("main: -user %s: RLIMIT_NICE stays below 20 (%s): the zone "
				 "builder runs SCHED_BATCH, not SCHED_IDLE", user, strerror(errno));
	}
	/* Groups before the uid: once the uid is not root, they cannot change.
	 * glibc applies each of these calls to every thread of the process. */
	if (initgroups(pw.pw_name, pw.pw_gid) != 0 || setgid(pw.pw_gid) != 0 ||
	    setuid(pw.pw_uid) != 0) {
		rc = -errno;
		snprintf(err, errlen, "main: -user %s: cannot switch to uid %u gid %u: %s", user,
			 (unsigned)pw.pw_uid, (unsigned)pw.pw_gid, strerror(errno));
		return rc;
	}
	if (pw.pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "main: -user %s: root could be regained after the switch",
			 user);
		return -EPERM;
	}
	return 0;
}
