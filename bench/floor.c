/* bench/floor.c -- the benchmark floor: a UDP "DNS server" that answers every query with itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * usage: floor [-a ADDR] -p PORT [-b BATCH]
 *
 * Receives up to BATCH datagrams with one recvmmsg(), sets the QR bit of
 * each, and sends the same buffers back to their senders with one
 * sendmmsg().  There is no parsing and no lookup, so the CPU it spends per
 * packet is what the kernel's UDP path costs: no real server can go below
 * it, and `make bench` reports every server's CPU per answer as a multiple
 * of this.  Runs until killed; prints "floor: ready" on stderr once bound.
 */

#define FLOOR_MAX_BATCH 256
#define FLOOR_BUF 4096

static void floor_usage(void)
{
	fprintf(stderr, "usage: floor [-a ADDR] -p PORT [-b BATCH]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static unsigned char bufs[FLOOR_MAX_BATCH][FLOOR_BUF];
	static struct mmsghdr msgs[FLOOR_MAX_BATCH];
	static struct iovec iov[FLOOR_MAX_BATCH];
	static struct sockaddr_storage peers[FLOOR_MAX_BATCH];
	const char *addr = "127.0.0.1";
	int port = 0, batch = 64, opt, fd;
	struct sockaddr_in sa;

	while ((opt = getopt(argc, argv, "a:p:b:")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		default: floor_usage();
		}
	}
	if (port <= 0 || port > 65535 || batch < 1 || batch > FLOOR_MAX_BATCH)
		floor_usage();

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "floor: %s is not an IPv4 address\n", addr);
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "floor: bind %s port %d: %s\n", addr, port, strerror(errno));
		return 1;
	}
	/* The receive buffer mesos-dnsd sets (lib/dnsserver.c): with the
	 * kernel's default the floor lost part of dnsperf's opening burst. */
	int rcvbuf = 4 * 1024 * 1024;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "floor: ready on %s port %d, batch %d\n", addr, port, batch);

	/* Headers set once; after a batch only the n the kernel filled are
	 * re-armed, as mesos-dnsd does: the floor spends no more than it must. */
	for (int i = 0; i < batch; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = FLOOR_BUF;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &peers[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
	}
	for (;;) {
		int n;

		/* Block for the first datagram, then take whatever else is queued. */
		n = recvmmsg(fd, msgs, (unsigned)batch, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "floor: recvmmsg: %s\n", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			iov[i].iov_len = msgs[i].msg_len;
			if (msgs[i].msg_len >= 12)
				bufs[i][2] |= 0x80;
		}
		for (int sent = 0; sent < n;) {
			int k = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), 0);
			if (k < 0) {
				if (errno == EINTR)
					continue;
				break;	/* a full socket buffer drops the rest, as a server would */
			}
			sent += k;
		}
		for (int i = 0; i < n; i++) {
			iov[i].iov_len = FLOOR_BUF;
			msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
			msgs[i].msg_hdr.msg_flags = 0;
		}
	}
}
