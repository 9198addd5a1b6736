// alloc: the allocating process of bench/oom-race (cgroup v1).
//
// usage: alloc CGROUP_PROCS MIB_PER_S
//
// Joins the cgroup (writes its pid to CGROUP_PROCS), prints "ready", waits for one byte on stdin,
// then touches anonymous memory (one write per 4 KiB page) until the OOM killer takes it:
// MIB_PER_S > 0 paces 1 MiB steps on absolute CLOCK_MONOTONIC deadlines; 0 is as fast as this
// process can fault pages in (no syscall between pages but the faults themselves).
// The mapping is MADV_HUGEPAGE (2 MiB aligned): on the benchmark VM a 4 KiB anonymous fault costs
// about 70 us (nested paging), which caps a 4 KiB-page allocator near 60 MiB/s; transparent huge
// pages fault 2 MiB at once (1-5 GiB/s). Near the limit a huge page charge fails and the kernel
// falls back to 4 KiB pages, as it would for any THP user.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1L << 20)
#define REGION (4096L * MIB) /* far above the 256 MiB limit: the killer comes first */

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: alloc CGROUP_PROCS MIB_PER_S\n"); return 2; }
  FILE *cg = fopen(argv[1], "w");
  if (cg == NULL || fprintf(cg, "%d\n", (int)getpid()) < 0 || fclose(cg) != 0) { perror("join cgroup"); return 1; }
  long rate = atol(argv[2]);
  char *m = mmap(NULL, REGION + 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  volatile char *p = (char *)(((unsigned long)m + 2 * MIB - 1) & ~(2 * MIB - 1));
  if (madvise((void *)p, REGION, MADV_HUGEPAGE) != 0) perror("madvise(MADV_HUGEPAGE)");
  printf("ready\n");
  fflush(stdout);
  char go;
  if (read(0, &go, 1) != 1) return 0;
  if (rate <= 0) {
    for (long off = 0; off < REGION; off += 4096) p[off] = 1;
    return 3; /* never: the limit is far below REGION */
  }
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  long stepNs = 1000000000L / rate;
  for (long off = 0; off < REGION; off += MIB) {
    for (long i = 0; i < MIB; i += 4096) p[off + i] = 1;
    next.tv_nsec += stepNs;
    while (next.tv_nsec >= 1000000000L) { next.tv_sec++; next.tv_nsec -= 1000000000L; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  return 3;
}
