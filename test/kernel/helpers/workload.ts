// A deterministic memory workload for kernel tests: a small C program, compiled at test time,
// that joins a cgroup (writes its own pid to cgroup.procs before touching memory), writes one
// byte in every page of an anonymous mapping, maps a file MAP_SHARED and reads every page, prints
// "ready" and then waits until its stdin closes (so it also exits when the test process dies).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const WORKLOAD_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s CGROUP_PROCS ANON_MIB FILE\n", argv[0]); return 2; }
  FILE *cg = fopen(argv[1], "w");
  if (cg == NULL) { perror(argv[1]); return 1; }
  if (fprintf(cg, "%d\n", (int)getpid()) < 0 || fclose(cg) != 0) { perror("join cgroup"); return 1; }

  long page = sysconf(_SC_PAGESIZE);
  size_t anon = (size_t)atol(argv[2]) << 20;
  unsigned char *a = mmap(NULL, anon, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) { perror("mmap anon"); return 1; }
  for (size_t i = 0; i < anon; i += (size_t)page) a[i] = (unsigned char)((i / (size_t)page) | 1);

  int fd = open(argv[3], O_RDONLY);
  if (fd < 0) { perror(argv[3]); return 1; }
  struct stat st;
  if (fstat(fd, &st) != 0) { perror("fstat"); return 1; }
  const volatile unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap file"); return 1; }
  unsigned long sum = 0;
  for (off_t i = 0; i < st.st_size; i += page) sum += m[i];

  printf("ready %lu\n", sum);
  fflush(stdout);
  char buf[256];
  while (read(0, buf, sizeof buf) > 0) {}
  return 0;
}
`;

export function haveGcc(): boolean {
  const r = spawnSync('gcc', ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

/** A comm (at most 15 characters) unique to this run: the binary's name. */
export function uniqueComm(): string {
  return `mlw-${process.pid % 100_000}-${Math.random().toString(36).slice(2, 5)}`;
}

/** Compiles `source` into dir/name (the binary's name is the process's comm); returns the binary's path. */
function compileC(dir: string, name: string, source: string): string {
  const src = join(dir, `${name}.c`);
  const bin = join(dir, name);
  writeFileSync(src, source);
  const r = spawnSync('gcc', ['-O1', '-Wall', '-Werror', '-o', bin, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed (${r.status ?? r.signal}): ${r.stderr}`);
  return bin;
}

/** Compiles the workload into dir/comm; returns the binary's path. */
export function compileWorkload(dir: string, comm: string): string {
  return compileC(dir, comm, WORKLOAD_C);
}

/**
 * A ramp allocator for OOM tests. argv: cgroup.procs path, MiB per second. It joins the cgroup,
 * prints "ready", waits for a byte on stdin, then touches 1 MiB at a time at that rate until killed.
 */
export const RAMP_ALLOC_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
/* argv: cgroup.procs path, MiB per second. Joins the cgroup, then touches 1 MiB at a time at that rate until killed. */
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  FILE *cg = fopen(argv[1], "w");
  if (cg == NULL || fprintf(cg, "%d\n", (int)getpid()) < 0 || fclose(cg) != 0) { perror("join"); return 1; }
  long rate = atol(argv[2]);
  printf("ready\n"); fflush(stdout);
  char go[8]; if (read(0, go, 1) != 1) return 0;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (;;) {
    char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    for (int i = 0; i < (1 << 20); i += 4096) p[i] = 1;
    /* Absolute deadlines: the rate holds whatever each step costs. */
    next.tv_nsec += 1000000000L / rate;
    if (next.tv_nsec >= 1000000000L) { next.tv_sec++; next.tv_nsec -= 1000000000L; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
}
`;

/** Compiles the ramp allocator into dir/comm; returns the binary's path. */
export function compileRampAllocator(dir: string, comm: string): string {
  return compileC(dir, comm, RAMP_ALLOC_C);
}

export interface Workload {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  /** Resolves when the process has exited (and been reaped). */
  exited: Promise<void>;
}

/** Starts the workload in the cgroup directory `cgroupDir` and waits for its "ready" line. */
export async function startWorkload(bin: string, cgroupDir: string, anonMiB: number, file: string, timeoutMs = 20_000): Promise<Workload> {
  const child = spawn(bin, [join(cgroupDir, 'cgroup.procs'), String(anonMiB), file], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`workload not ready after ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (/^ready /m.test(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`workload exited before ready (${code ?? signal}); stderr: ${stderr}`));
    });
  }).catch(async (err: unknown) => {
    await stopWorkload({ child, pid: child.pid ?? -1, exited });
    throw err;
  });
  if (child.pid === undefined) throw new Error('workload has no pid');
  return { child, pid: child.pid, exited };
}

/** SIGKILL and wait until it is reaped (at most timeoutMs). */
export async function stopWorkload(w: Workload, timeoutMs = 5000): Promise<void> {
  if (w.child.exitCode === null && w.child.signalCode === null) {
    w.child.stdin.destroy();
    w.child.kill('SIGKILL');
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([w.exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}
