// How many file descriptors this process has open: prom-client's process_open_fds, without listing them.
//
// prom-client lists /proc/self/fd on every scrape (readdirSync, minus the one fd the listing itself holds open).
// With 500 watched v1 cgroups memlens holds about 3000 fds, and that listing cost 3-4 ms of CPU per scrape
// (bench/RESULTS.md, "PSS for every process at N = 1000"). Since Linux 6.2 stat() of /proc/PID/fd gives the
// count as its size (fs/proc/fd.c proc_fd_getattr -> proc_readfd_count: the bits set in the fd table's
// open_fds bitmap), which opens no fd; older kernels give 0 there, and then the directory is listed as
// prom-client does.
import { readdirSync, statSync } from 'node:fs';

const SELF_FD = '/proc/self/fd';

/** The count stat() gives (0 before Linux 6.2), or undefined when /proc/self/fd cannot be read. */
export function openFdsByStat(): number | undefined {
  try {
    return statSync(SELF_FD).size;
  } catch {
    return undefined;
  }
}

/** prom-client's count: the listing's length, minus the fd the listing held. undefined when unreadable. */
export function openFdsByListing(): number | undefined {
  try {
    return readdirSync(SELF_FD).length - 1;
  } catch {
    return undefined;
  }
}

/** Open fds of this process: the cheap count where the kernel gives it, else the listing. */
export function openFds(): number | undefined {
  const n = openFdsByStat();
  // A process always has fds open (stdin/out/err, the event loop's epoll): 0 is a kernel without the count.
  return n !== undefined && n > 0 ? n : openFdsByListing();
}
