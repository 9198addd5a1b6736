// alloc: the allocating process of bench/notify-latency (cgroup v1).
//
// usage: alloc USAGE_FILE LO_BYTES HI_BYTES CYCLES PACE_US SEED
//
// Runs inside the benchmark's memory cgroup. Each cycle: touches 1 MiB at a time (its own anonymous mapping,
// THP off) until the cgroup's memory.usage_in_bytes (USAGE_FILE) reaches HI_BYTES, sleeping PACE_US between MiBs;
// holds 50 ms; unmaps 1 MiB at a time until usage is below LO_BYTES; then rests 100-500 ms (pseudo-random from
// SEED, so crossings land at random phases of the exporter's collections). Never reaches the limit.
//
// After each MiB touched on the way up it writes one line to stdout (a pipe to the driver), with write(2):
//   U <cycle> <t_start_ns> <t_end_ns> <own_total_bytes> <cgroup_usage_bytes>
// t_start_ns/t_end_ns: CLOCK_REALTIME before touching the MiB and after touching it (before reading the usage).
// Down phase and rests write "D <cycle> <t_ns> <total> <usage>" once per cycle at the bottom.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024L * 1024L)
#define MAXCHUNKS 4096

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int usage_fd;
static long read_usage(void) {
  char buf[64];
  ssize_t n = pread(usage_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) { perror("pread usage"); exit(2); }
  buf[n] = 0;
  return atol(buf);
}

static void out(const char *s) {
  size_t len = strlen(s), off = 0;
  while (off < len) {
    ssize_t w = write(1, s + off, len - off);
    if (w < 0) { if (errno == EINTR) continue; perror("write"); exit(3); }
    off += (size_t)w;
  }
}

static void sleep_us(long us) {
  if (us <= 0) return;
  struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

int main(int argc, char **argv) {
  if (argc != 7) { fprintf(stderr, "usage: alloc USAGE_FILE LO_BYTES HI_BYTES CYCLES PACE_US SEED\n"); return 1; }
  usage_fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (usage_fd < 0) { perror(argv[1]); return 1; }
  long lo = atol(argv[2]), hi = atol(argv[3]);
  int cycles = atoi(argv[4]);
  long pace = atol(argv[5]);
  srand((unsigned)atoi(argv[6]));
  static char *chunks[MAXCHUNKS];
  int n = 0;
  long page = sysconf(_SC_PAGESIZE);
  char line[256];
  for (int c = 1; c <= cycles; c++) {
    while (read_usage() < hi) {
      if (n >= MAXCHUNKS) { fprintf(stderr, "too many chunks\n"); return 4; }
      char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) { perror("mmap"); return 4; }
      madvise(p, MIB, MADV_NOHUGEPAGE);
      uint64_t t0 = now_ns();
      for (long off = 0; off < MIB; off += page) p[off] = (char)(off | 1);
      uint64_t t1 = now_ns();
      chunks[n++] = p;
      long u = read_usage();
      snprintf(line, sizeof line, "U %d %llu %llu %ld %ld\n", c, (unsigned long long)t0, (unsigned long long)t1, (long)n * MIB, u);
      out(line);
      sleep_us(pace);
    }
    sleep_us(50000);
    while (n > 0 && read_usage() >= lo) munmap(chunks[--n], MIB);
    snprintf(line, sizeof line, "D %d %llu %ld %ld\n", c, (unsigned long long)now_ns(), (long)n * MIB, read_usage());
    out(line);
    sleep_us(100000 + (rand() % 400000));
  }
  out("END\n");
  return 0;
}
