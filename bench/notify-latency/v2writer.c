// v2writer: the "allocating process" of the v2 part of bench/notify-latency, on a fixture tree.
//
// usage: v2writer MEMORY_CURRENT_FILE LIMIT_BYTES CYCLES STEP_US SEED [FROM_FRACTION]
//
// cgroup v2 has no usage thresholds in the kernel, and this host has no v2 hierarchy: memlens's v2 poller is
// measured on a copy of the v2 fixture tree whose memory.current this process rewrites (pwrite at offset 0 through
// one held fd, values zero-padded to one length, so a concurrent pread never sees a partial number). Each cycle ramps
// the value from FROM_FRACTION (default 0.85) to 0.97 of LIMIT_BYTES in 1 MiB steps every STEP_US, then back down at
// once, then rests 100-500 ms. After each upward write it prints  W <cycle> <t_ns> <value>  (CLOCK_REALTIME after pwrite returned).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static void sleep_us(long us) {
  struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}
static int fd;
static void put(long v) {
  char b[32];
  int n = snprintf(b, sizeof b, "%012ld\n", v);
  if (pwrite(fd, b, (size_t)n, 0) != n) { perror("pwrite"); exit(2); }
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) { fprintf(stderr, "usage: v2writer FILE LIMIT CYCLES STEP_US SEED [FROM_FRACTION]\n"); return 1; }
  fd = open(argv[1], O_WRONLY | O_CLOEXEC);
  if (fd < 0) { perror(argv[1]); return 1; }
  long limit = atol(argv[2]), step = 1024L * 1024L;
  int cycles = atoi(argv[3]);
  long step_us = atol(argv[4]);
  srand((unsigned)atoi(argv[5]));
  double from = argc == 7 ? atof(argv[6]) : 0.85;
  long lo = (long)(from * (double)limit), hi = (long)(0.97 * (double)limit);
  if (ftruncate(fd, 0) != 0) { perror("ftruncate"); return 1; }
  put(lo);
  sleep_us(500000);
  for (int c = 1; c <= cycles; c++) {
    for (long v = lo + step; v <= hi; v += step) {
      put(v);
      printf("W %d %llu %ld\n", c, (unsigned long long)now_ns(), v);
      fflush(stdout);
      sleep_us(step_us);
    }
    sleep_us(300000); // at the top: the poller sees it, then down
    put(lo);
    sleep_us(200000 + (rand() % 400000));
  }
  printf("END\n");
  fflush(stdout);
  return 0;
}
