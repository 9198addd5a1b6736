// rawcg: the bare cost of reading a memory cgroup tree, the floor for an exporter's cgroup collector.
// Walks ROOT recursively and, in every directory, opens, reads and closes each of the memory files
// that exist there (v1 or v2 names; a file the kernel lacks is skipped). Prints one RESULT line with
// the median CPU (user+sys) per pass.
//   rawcg [-i PASSES] [-f file1,file2,...] [-1] ROOT
// -1: read each file but cgroup.procs with one read() when it comes back short, as memlens does (HostFs.readInto
// `oneShow`: every cgroup memory file is a single-show seq_file, returned whole by the first read; cgroup.procs
// is a record-by-record one); without it every file is read until read() returns 0.
//
// Origin: copied into this repository on 2026-12-02 from the benchmark kit the memlens engineers shared
// while building it (the same kit bench/src/rawread.c and holder.c came from), unchanged but for this note.
// bench/cgscale.sh runs it with -f set to exactly the files the cgroup collector reads (v1 or v2).
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *DEFAULT_FILES =
    "memory.usage_in_bytes,memory.limit_in_bytes,memory.stat,memory.oom_control,memory.failcnt,"
    "memory.max_usage_in_bytes,memory.memsw.usage_in_bytes,"
    "memory.current,memory.max,memory.high,memory.events,memory.peak,memory.swap.current,memory.pressure,"
    "cgroup.procs";
static char *files[64];
static int nfiles;
static long dirs, reads;
static int one_show;
static char buf[1 << 16];

static void pass(const char *path) {
  char p[4096];
  dirs++;
  for (int i = 0; i < nfiles; i++) {
    snprintf(p, sizeof p, "%s/%s", path, files[i]);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (one_show && strcmp(files[i], "cgroup.procs") != 0) {
      if (read(fd, buf, sizeof buf) == (ssize_t)sizeof buf)
        while (read(fd, buf, sizeof buf) > 0) {}
    } else {
      while (read(fd, buf, sizeof buf) > 0) {}
    }
    close(fd);
    reads++;
  }
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    pass(p);
  }
  closedir(d);
}

static double cpu_ms(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int iters = 11, o;
  char *list = strdup(DEFAULT_FILES);
  while ((o = getopt(argc, argv, "i:f:1")) != -1) {
    if (o == 'i') iters = atoi(optarg);
    else if (o == '1') one_show = 1;
    else if (o == 'f') list = strdup(optarg);
    else return 2;
  }
  if (optind >= argc || iters < 1) {
    fprintf(stderr, "usage: rawcg [-i PASSES] [-f file,...] [-1] ROOT\n");
    return 2;
  }
  for (char *t = strtok(list, ","); t && nfiles < 64; t = strtok(NULL, ",")) files[nfiles++] = t;
  double *ms = calloc(iters, sizeof *ms);
  pass(argv[optind]);  // warm-up
  for (int i = 0; i < iters; i++) {
    dirs = reads = 0;
    double t0 = cpu_ms();
    pass(argv[optind]);
    ms[i] = cpu_ms() - t0;
  }
  qsort(ms, iters, sizeof *ms, cmp);
  printf("RESULT rawcg%s iters=%d dirs %ld files_read %ld cpu_ms %.2f min %.2f max %.2f\n", one_show ? "-oneshow" : "", iters, dirs, reads,
         ms[iters / 2], ms[0], ms[iters - 1]);
  return 0;
}
