// uringpoll: does io_uring make a poll read cheaper than pread(2)? (issue 14, the idle cost of v2 polling)
// Same shape as rawpoll: N files held open, R reads a second in total (round robin, 64 bytes at offset 0, as memlens's
// v2 poller reads memory.current), made in W wake-ups a second (clock_nanosleep to absolute deadlines). Mode -m pread:
// one pread(2) per read (= rawpoll). Mode -m uring: the reads owed at a wake-up are written as IORING_OP_READ SQEs and
// submitted with ONE io_uring_enter(2) that waits for all of their completions. Raw syscalls, no liburing.
// -d: IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (completions run in the submitter's io_uring_enter).
// -f: the files registered (IORING_REGISTER_FILES), SQEs with IOSQE_FIXED_FILE.
// CPU is the whole process's, io-wq worker threads included (CLOCK_PROCESS_CPUTIME_ID), and the
// number of iou-wrk threads seen at the end (reads the kernel could not do without blocking are handed to them: a
// file without FMODE_NOWAIT is punted there on every read).
// usage: uringpoll [-m pread|uring] [-r READS_PER_S=2400] [-w WAKEUPS_PER_S=5] [-s SECONDS=20] [-d] [-f] FILE...
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// The CPU time of the whole thread group (io-wq workers are threads of this process): the scheduler's runtime, in ns,
// not the tick-sampled utime + stime of /proc/self/stat (10 ms ticks are too coarse for 0.5 % over 20 s).
static double proc_cpu_s(void) {
  struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec / 1e9;
}

static int iou_threads(void) {
  DIR *d = opendir("/proc/self/task"); struct dirent *e; int k = 0; char p[300], c[32];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
    int fd = open(p, O_RDONLY); if (fd < 0) continue; ssize_t n = read(fd, c, sizeof c - 1); close(fd);
    if (n > 0) { c[n] = 0; if (strncmp(c, "iou-wrk", 7) == 0) k++; }
  }
  closedir(d); return k;
}

int main(int argc, char **argv) {
  double r = 2400, w = 5, s = 20; int c; const char *mode = "uring"; int defer = 0, fixed = 0;
  while ((c = getopt(argc, argv, "m:r:w:s:df")) != -1) {
    if (c == 'm') mode = optarg; else if (c == 'r') r = atof(optarg); else if (c == 'w') w = atof(optarg);
    else if (c == 's') s = atof(optarg); else if (c == 'd') defer = 1; else if (c == 'f') fixed = 1; else return 2;
  }
  int n = argc - optind; if (n <= 0) return 2;
  int uring = strcmp(mode, "uring") == 0;
  int *fd = malloc(sizeof(int) * n);
  for (int i = 0; i < n; i++) { fd[i] = open(argv[optind + i], O_RDONLY | O_CLOEXEC); if (fd[i] < 0) { perror(argv[optind + i]); return 1; } }
  int per = (int)(r / w + 1);
  char (*buf)[64] = malloc(64 * (size_t)per);

  int ring = -1; unsigned *sq_head = 0, *sq_tail = 0, *sq_mask = 0, *sq_array = 0, *cq_head = 0, *cq_tail = 0, *cq_mask = 0;
  struct io_uring_sqe *sqes = 0; struct io_uring_cqe *cqes = 0;
  if (uring) {
    struct io_uring_params p; memset(&p, 0, sizeof p);
    unsigned entries = 1; while (entries < (unsigned)per) entries <<= 1;
    if (defer) p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    ring = syscall(__NR_io_uring_setup, entries, &p);
    if (ring < 0) { perror("io_uring_setup"); return 1; }
    size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned), cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    char *sq = mmap(0, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
    char *cq = (p.features & IORING_FEAT_SINGLE_MMAP) ? sq : mmap(0, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
    if ((p.features & IORING_FEAT_SINGLE_MMAP) && cq_sz > sq_sz) { munmap(sq, sq_sz); sq = cq = mmap(0, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING); }
    sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) { perror("mmap"); return 1; }
    sq_head = (unsigned *)(sq + p.sq_off.head); sq_tail = (unsigned *)(sq + p.sq_off.tail); sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    sq_array = (unsigned *)(sq + p.sq_off.array);
    cq_head = (unsigned *)(cq + p.cq_off.head); cq_tail = (unsigned *)(cq + p.cq_off.tail); cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    for (unsigned i = 0; i < p.sq_entries; i++) sq_array[i] = i;
    if (fixed && syscall(__NR_io_uring_register, ring, IORING_REGISTER_FILES, fd, n) < 0) { perror("IORING_REGISTER_FILES"); return 1; }
    (void)sq_head;
  }

  long reads = 0, wakes = 0, errs = 0; double owed = 0; int next = 0;
  struct timespec t0, now; clock_gettime(CLOCK_MONOTONIC, &t0);
  struct timespec deadline = t0; long step = (long)(1e9 / w);
  double c0 = proc_cpu_s();
  for (;;) {
    deadline.tv_nsec += step; while (deadline.tv_nsec >= 1000000000) { deadline.tv_nsec -= 1000000000; deadline.tv_sec++; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
    wakes++;
    owed += r / w;
    int k = 0;
    if (!uring) {
      while (owed >= 1) { owed -= 1; if (pread(fd[next], buf[0], 64, 0) < 0) errs++; next = (next + 1) % n; reads++; }
    } else {
      unsigned tail = *sq_tail;
      while (owed >= 1 && k < per) {
        owed -= 1;
        struct io_uring_sqe *e = &sqes[tail & *sq_mask]; memset(e, 0, sizeof *e);
        e->opcode = IORING_OP_READ; e->fd = fixed ? next : fd[next]; e->flags = fixed ? IOSQE_FIXED_FILE : 0;
        e->addr = (unsigned long)buf[k]; e->len = 64; e->off = 0; e->user_data = (unsigned long)k;
        tail++; k++; next = (next + 1) % n;
      }
      __atomic_store_n(sq_tail, tail, __ATOMIC_RELEASE);
      int got = syscall(__NR_io_uring_enter, ring, k, k, IORING_ENTER_GETEVENTS, NULL, 0);
      if (got != k) { fprintf(stderr, "io_uring_enter: %d (%s)\n", got, strerror(errno)); return 1; }
      unsigned head = *cq_head, ct = __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE), seen = 0;
      while (head != ct) { if (cqes[head & *cq_mask].res < 0) errs++; head++; seen++; }
      __atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
      if ((int)seen != k) { fprintf(stderr, "completions %u of %d\n", seen, k); }
      reads += k;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= s) break;
  }
  double cpu = proc_cpu_s() - c0;
  printf("RESULT uringpoll mode %s%s%s files %d reads_per_s %.0f wakeups_per_s %.0f seconds %.1f cpu_pct %.3f us_per_read %.2f errors %ld iou_wrk_threads %d\n",
         mode, uring && defer ? "+defer" : "", uring && fixed ? "+fixed" : "", n, reads / s, wakes / s, s, 100 * cpu / s, 1e6 * cpu / reads, errs, iou_threads());
  return 0;
}
