// rawpoll: the bare cost of polling, the yardstick for bench/poll-idle: N files held open, R pread(2)s a second
// in total (round robin, 64 bytes at offset 0, as memlens's v2 poller reads memory.current), made in W wake-ups a
// second (clock_nanosleep to absolute deadlines, the reads owed at each). Prints the CPU it used (getrusage:
// user + system) as % of one core and per read.
// usage: rawpoll [-r READS_PER_S=2400] [-w WAKEUPS_PER_S=2400] [-s SECONDS=30] FILE...
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
int main(int argc, char **argv) {
  double r = 2400, w = 2400, s = 30; int c;
  while ((c = getopt(argc, argv, "r:w:s:")) != -1) {
    if (c == 'r') r = atof(optarg); else if (c == 'w') w = atof(optarg); else if (c == 's') s = atof(optarg);
    else return 2;
  }
  int n = argc - optind; if (n <= 0) return 2;
  int *fd = malloc(sizeof(int) * n);
  for (int i = 0; i < n; i++) { fd[i] = open(argv[optind + i], O_RDONLY | O_CLOEXEC); if (fd[i] < 0) { perror(argv[optind + i]); return 1; } }
  char buf[64]; long reads = 0, wakes = 0; double owed = 0; int next = 0;
  struct timespec t0, now; clock_gettime(CLOCK_MONOTONIC, &t0);
  struct timespec deadline = t0; long step = (long)(1e9 / w);
  struct rusage u0, u1; getrusage(RUSAGE_SELF, &u0);
  for (;;) {
    deadline.tv_nsec += step; while (deadline.tv_nsec >= 1000000000) { deadline.tv_nsec -= 1000000000; deadline.tv_sec++; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
    wakes++;
    owed += r / w;
    while (owed >= 1) { owed -= 1; if (pread(fd[next], buf, sizeof buf, 0) < 0) return 1; next = (next + 1) % n; reads++; }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= s) break;
  }
  getrusage(RUSAGE_SELF, &u1);
  double cpu = (u1.ru_utime.tv_sec - u0.ru_utime.tv_sec) + (u1.ru_utime.tv_usec - u0.ru_utime.tv_usec) / 1e6
             + (u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) + (u1.ru_stime.tv_usec - u0.ru_stime.tv_usec) / 1e6;
  printf("RESULT rawpoll files %d reads_per_s %.0f wakeups_per_s %.0f seconds %.1f cpu_pct %.3f us_per_read %.2f\n", n, reads / s, wakes / s, s, 100 * cpu / s, 1e6 * cpu / reads);
  return 0;
}
