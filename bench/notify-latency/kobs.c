// kobs: an independent observer of the kernel's cgroup v1 threshold notifications (bench/notify-latency).
//
// usage: kobs CGROUP_DIR THRESHOLD_BYTES...
//
// Registers one eventfd per threshold on CGROUP_DIR/memory.usage_in_bytes through cgroup.event_control (the same
// mechanism memlens uses), waits in epoll, and for every wake-up prints
//   K <t_ns> <threshold_bytes> <count> <usage_bytes>
// (CLOCK_REALTIME right after epoll_wait returned, then the usage read). It tells the kernel's part of the latency
// (allocation -> signal -> a waiting C process woken) apart from memlens's part. Exits on SIGTERM or when the
// cgroup is removed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: kobs CGROUP_DIR THRESHOLD_BYTES...\n"); return 1; }
  char path[4096];
  snprintf(path, sizeof path, "%s/memory.usage_in_bytes", argv[1]);
  int ufd = open(path, O_RDONLY | O_CLOEXEC);
  if (ufd < 0) { perror(path); return 1; }
  snprintf(path, sizeof path, "%s/cgroup.event_control", argv[1]);
  int cfd = open(path, O_WRONLY | O_CLOEXEC);
  if (cfd < 0) { perror(path); return 1; }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int nth = argc - 2;
  long th[64];
  for (int i = 0; i < nth && i < 64; i++) {
    th[i] = atol(argv[i + 2]);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    char cmd[128];
    int len = snprintf(cmd, sizeof cmd, "%d %d %ld", efd, ufd, th[i]);
    if (write(cfd, cmd, (size_t)len) < 0) { perror("cgroup.event_control"); return 1; }
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    th[i + 32] = efd; // fd kept beside the threshold
  }
  printf("READY\n");
  fflush(stdout);
  struct epoll_event evs[16];
  for (;;) {
    int n = epoll_wait(ep, evs, 16, -1);
    uint64_t t = now_ns();
    if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u32;
      uint64_t cnt = 0;
      if (read((int)th[i + 32], &cnt, sizeof cnt) != sizeof cnt) continue;
      char buf[64];
      ssize_t r = pread(ufd, buf, sizeof buf - 1, 0);
      if (r <= 0) { printf("GONE\n"); fflush(stdout); return 0; } // ENODEV: cgroup removed
      buf[r] = 0;
      printf("K %llu %ld %llu %ld\n", (unsigned long long)t, th[i], (unsigned long long)cnt, atol(buf));
      fflush(stdout);
    }
  }
}
