// HostFs: the only code that touches the host's files. Every path is under a root
// (--path.procfs, --path.sysfs), so the same code reads /proc, /host/proc in a container, or a
// fixture tree in tests. Reads are synchronous, whole-file, into one reused buffer: measured at
// 1.0-1.2x the bare C read (bench/RESULTS.md), where fs.promises cost about 2x.
// Callers that read thousands of files yield between batches (collectors/yieldPoint.ts).
//
// The hot reads (readInto, readAtInto: every cgroup memory file and /proc/PID file of a scrape) call libc's
// open/openat/read/close through koffi (kernel/sys.ts) rather than node:fs's openSync/readSync/closeSync: the same
// system calls without node:fs's argument checks, path flattening and uv_fs_t per call, measured at 1000 cgroups
// (11,000 files) at about 0.88x node:fs's CPU, and openat from the cgroup's directory saves the kernel the walk of
// the whole path for each of a cgroup's files, and closeDir closes a cgroup's files together with one close_range(2)
// (bench/RESULTS.md, "koffi reads"). Failures throw what node:fs throws
// (an Error with code, negative errno, syscall, path, and node:fs's message), so callers see no difference; the
// node:fs path is kept for `io: 'node'` (the tests compare the two) and for a path holding a NUL byte (node:fs
// refuses it where a C string would be cut short).
import { closeSync, openSync, readdirSync, readSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { isGone } from '../errors.js';
import { EINTR, EMFILE, ENFILE, ENOSYS, errnoException, lastErrno, O_CLOEXEC, O_DIRECTORY, O_PATH, O_RDONLY, sys, type ErrnoException } from '../kernel/sys.js';

/** How HostFs reads files: libc through koffi (the default), or node:fs. */
export type HostIo = 'libc' | 'node';

/** Files read through one DirHandle whose close waits for closeDir (a cgroup has 11-13 memory files). */
const MAX_DEFERRED = 15;

/** Files released (HostFs.releaseFiles) that wait to be closed together: 32 processes' status, stat and rollup. */
const RELEASE_BATCH = 96;

/**
 * A directory whose files are read by name (HostFs.readAtInto): opened once (O_PATH), so that each file's open is
 * a lookup of one name in it. `fd` is -1 when the directory could not be opened that way (then each file is read
 * by its whole path, and fails as it would have). The files read through it are closed together with it by
 * closeDir: one close_range(2) over runs of consecutive fd numbers (all ours) instead of a close per file.
 */
export interface DirHandle {
  readonly path: string;
  readonly fd: number;
}

class Dir implements DirHandle {
  /** fds of files read through this handle, still open until closeDir. */
  readonly deferred = new Int32Array(MAX_DEFERRED + 1);
  count = 0;

  constructor(
    readonly path: string,
    readonly fd: number,
  ) {}
}

/** close_range(2) works here: until a call says ENOSYS (glibc before 2.34, Linux before 5.9). */
let closeRangeWorks = true;

/** @internal For tests: behave as on a host without close_range (true) or as found (false). */
export function withoutCloseRange(without: boolean): void {
  closeRangeWorks = !without;
}

/**
 * Closes fds[0..n) (each open, each ours): close_range over each run of consecutive numbers, so that no number in
 * a range belongs to anyone else; a close per fd where close_range is missing. Closing a kernfs or procfs file
 * cannot fail, so no error is reported (close_range reports none per fd).
 */
function closeAll(fds: Int32Array, n: number): void {
  if (n === 0) return;
  if (!closeRangeWorks) {
    for (let i = 0; i < n; i++) sys.close(fds[i]!);
    return;
  }
  // Sorted in place by insertion (n <= RELEASE_BATCH, mostly in order already, as each open takes the lowest free
  // number): no subarray, no sort builtin, nothing allocated.
  for (let i = 1; i < n; i++) {
    const fd = fds[i]!;
    let j = i - 1;
    while (j >= 0 && fds[j]! > fd) {
      fds[j + 1] = fds[j]!;
      j--;
    }
    fds[j + 1] = fd;
  }
  let lo = fds[0]!;
  let hi = lo;
  for (let i = 1; i <= n; i++) {
    const fd = i < n ? fds[i]! : -1;
    if (fd === hi + 1) {
      hi = fd;
      continue;
    }
    if (!closeRangeWorks || sys.close_range(lo, hi) < 0) {
      // ENOSYS: not here (then never again); anything else: this run closed one by one (every number is ours).
      if (closeRangeWorks && lastErrno() === ENOSYS) closeRangeWorks = false;
      for (let f = lo; f <= hi; f++) sys.close(f);
    }
    lo = hi = fd;
  }
}

/** The error node:fs throws for a failed system call: `${code}: ${description}, ${syscall} '${path}'`, errno < 0. */
function fsError(errno: number, syscall: string, path?: string): ErrnoException {
  const e = errnoException(errno, syscall, path);
  e.errno = -errno;
  return e;
}

export class HostFs {
  private buf = Buffer.allocUnsafe(64 * 1024);
  /** Files releaseFiles left for one close_range (the first releasedCount). */
  private readonly released = new Int32Array(RELEASE_BATCH);
  private releasedCount = 0;

  constructor(
    readonly procRoot: string,
    readonly sysRoot: string,
    /** libc (default) or node:fs for readInto / readAtInto. */
    readonly io: HostIo = 'libc',
  ) {}

  /** A path under the proc root: proc('1/status'). */
  proc(rel: string): string {
    return `${this.procRoot}/${rel}`;
  }

  /** A host absolute path (/sys/fs/cgroup/memory, as mountinfo prints it) mapped under the roots. */
  hostPath(abs: string): string {
    if (abs === '/sys' || abs.startsWith('/sys/')) return this.sysRoot + abs.slice(4);
    if (abs === '/proc' || abs.startsWith('/proc/')) return this.procRoot + abs.slice(5);
    return abs;
  }

  /**
   * The whole file as text. Throws the system error (with its errno code).
   * `oneShow`: see readInto.
   */
  read(path: string, oneShow = false): string {
    const len = this.readInto(path, oneShow);
    return this.buf.toString('utf8', 0, len);
  }

  /** The file's text, or undefined when it is gone (pid exited, cgroup removed, file absent). */
  tryRead(path: string, oneShow = false): string | undefined {
    try {
      return this.read(path, oneShow);
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  /**
   * The bytes the last readInto/tryReadInto (or read) filled, from 0 to the length it returned: valid until the
   * next read through this HostFs. Parsing a number straight from here makes no string at all (a scrape reads
   * thousands of one-number files).
   */
  get bytes(): Buffer {
    return this.buf;
  }

  /**
   * Reads the whole file into `bytes` and returns its length. Throws the system error (with its errno code).
   * `oneShow`: the file is a seq_file written by a single show() call: the kernel returns it whole in the first
   * read, so a short read is the end and the read that would return 0 is skipped: one system call less per file,
   * thousands per scrape. That holds for /proc/PID/status, stat, smaps_rollup, and for every cgroup file whose
   * cftype has no seq_start (cgroup_init_cftypes in kernel/cgroup/cgroup.c gives those cgroup_kf_single_ops;
   * kernfs_seq_next in fs/kernfs/file.c then ends after the one record, "the same behavior and code as
   * single_open()"; seq_read_iter in fs/seq_file.c grows its buffer until the record fits and copies it out
   * whole): memory.stat, memory.*_in_bytes, memory.oom_control, memory.events, memory.current, memory.max...
   * Never for files of many records (cgroup.procs, which has seq_start; /proc/PID/maps, smaps): those come a
   * buffer at a time.
   */
  readInto(path: string, oneShow = false): number {
    if (this.io === 'node' || path.includes('\0')) return this.nodeReadInto(path, oneShow);
    let fd: number;
    do fd = sys.open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && lastErrno() === EINTR);
    if (fd < 0) throw fsError(lastErrno(), 'open', path);
    return this.readFd(fd, oneShow);
  }

  /** readInto, or -1 when the file is gone (pid exited, cgroup removed, file absent). */
  tryReadInto(path: string, oneShow = false): number {
    try {
      return this.readInto(path, oneShow);
    } catch (err) {
      if (isGone(err)) return -1;
      throw err;
    }
  }

  /**
   * Opens a directory for readAtInto of its files; never throws (see DirHandle). Close it with closeDir. With
   * io 'node' nothing is opened.
   */
  openDir(path: string): DirHandle {
    if (this.io === 'node' || path.includes('\0')) return new Dir(path, -1);
    // Released files close first, so that this directory (held, maybe for long) takes a number below them and not
    // one among them: else each close of a batch leaves holes between held fds, later opens fill those holes one
    // number at a time, and every closeDir then makes a close_range per file instead of one. Seen as 12 calls per
    // cgroup at 1000 cgroups (the process collector's new /proc/PID directories opened between released files),
    // 20 ms more per scrape (bench/RESULTS.md, session 7).
    this.flushReleased();
    let fd: number;
    do fd = sys.open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && lastErrno() === EINTR);
    return new Dir(path, fd);
  }

  /** Closes the directory and every file read through it. */
  closeDir(dir: DirHandle): void {
    if (dir.fd < 0 || !(dir instanceof Dir)) return;
    dir.deferred[dir.count++] = dir.fd;
    closeAll(dir.deferred, dir.count);
    dir.count = 0;
  }

  /**
   * Closes the files read through `dir` so far (one close_range, as closeDir) and keeps the directory open for more:
   * for a handle held from one collection to the next (the process collector's /proc/PID), whose files must not
   * pile up open (each open seq_file keeps a 4 KiB kernel buffer until it is closed).
   */
  closeFiles(dir: DirHandle): void {
    if (!(dir instanceof Dir) || dir.count === 0) return;
    closeAll(dir.deferred, dir.count);
    dir.count = 0;
  }

  /**
   * As closeFiles, but the files join a list shared by every handle, closed together when RELEASE_BATCH are waiting
   * or at flushReleased: one close_range(2) for the files of dozens of processes (their fd numbers run on, as each
   * open takes the lowest free number), where closeFiles makes one per process. The process collector reads three
   * files per process and released them with two close_range calls each; on a host where a system call flushes the
   * TLB (page-table isolation without PCID) those were 2 of its 8 calls per process (bench/RESULTS.md, session 6).
   * At most RELEASE_BATCH files wait (each an open seq_file with its 4 KiB kernel buffer); callers flush before
   * they yield, so nothing stays open across a turn of the event loop.
   */
  releaseFiles(dir: DirHandle): void {
    if (!(dir instanceof Dir) || dir.count === 0) return;
    const n = dir.count;
    if (this.releasedCount + n > RELEASE_BATCH) this.flushReleased();
    for (let i = 0; i < n; i++) this.released[this.releasedCount++] = dir.deferred[i]!;
    dir.count = 0;
  }

  /** Closes the files releaseFiles left waiting. */
  flushReleased(): void {
    if (this.releasedCount === 0) return;
    closeAll(this.released, this.releasedCount);
    this.releasedCount = 0;
  }

  /**
   * readInto of `${dir.path}/${name}`, opened relative to the directory's fd: the same file, the same result and the
   * same errors (the message names the whole path). `name` is one name, no slash. The file stays open until
   * closeDir closes it with the directory (the first MAX_DEFERRED files; any more are closed at once).
   */
  readAtInto(dir: DirHandle, name: string, oneShow = false): number {
    if (dir.fd < 0 || !(dir instanceof Dir) || name.includes('\0')) return this.readInto(`${dir.path}/${name}`, oneShow);
    let fd: number;
    for (;;) {
      fd = sys.openat(dir.fd, name, O_RDONLY | O_CLOEXEC);
      if (fd >= 0) break;
      const errno = lastErrno();
      if (errno === EINTR) continue;
      // Out of fds while holding this handle's deferred ones: close those, then try again.
      if ((errno === EMFILE || errno === ENFILE) && (dir.count > 0 || this.releasedCount > 0)) {
        closeAll(dir.deferred, dir.count);
        dir.count = 0;
        this.flushReleased();
        continue;
      }
      throw fsError(errno, 'open', `${dir.path}/${name}`);
    }
    if (dir.count === MAX_DEFERRED) return this.readFd(fd, oneShow);
    dir.deferred[dir.count++] = fd;
    return this.readOpen(fd, oneShow);
  }

  /** readAtInto, or -1 when the file is gone. */
  tryReadAtInto(dir: DirHandle, name: string, oneShow = false): number {
    try {
      return this.readAtInto(dir, name, oneShow);
    } catch (err) {
      if (isGone(err)) return -1;
      throw err;
    }
  }

  /** Reads an fd opened by libc into `bytes` (see readInto for `oneShow`) and closes it. */
  private readFd(fd: number, oneShow: boolean): number {
    const len = this.readBody(fd, oneShow);
    // As node:fs's `finally { closeSync }`: a failed close is thrown, over a failed read.
    if (sys.close(fd) < 0) throw fsError(lastErrno(), 'close');
    if (len < 0) throw fsError(-len, 'read');
    return len;
  }

  /** readFd for an fd whose close is deferred (to closeDir). */
  private readOpen(fd: number, oneShow: boolean): number {
    const len = this.readBody(fd, oneShow);
    if (len < 0) throw fsError(-len, 'read');
    return len;
  }

  /** Reads an fd into `bytes`: the length, or minus the errno of a failed read. */
  private readBody(fd: number, oneShow: boolean): number {
    let len = 0;
    for (;;) {
      if (len === this.buf.length) this.grow(len);
      const want = this.buf.length - len;
      const n = sys.read(fd, len === 0 ? this.buf : this.buf.subarray(len), want);
      if (n < 0) {
        const errno = lastErrno();
        if (errno === EINTR) continue;
        return -errno;
      }
      len += n;
      if (n === 0 || (oneShow && n < want)) return len;
    }
  }

  private grow(len: number): void {
    const bigger = Buffer.allocUnsafe(this.buf.length * 2);
    this.buf.copy(bigger, 0, 0, len);
    this.buf = bigger;
  }

  /** readInto through node:fs. */
  private nodeReadInto(path: string, oneShow: boolean): number {
    const fd = openSync(path, 'r');
    try {
      let len = 0;
      for (;;) {
        if (len === this.buf.length) this.grow(len);
        const want = this.buf.length - len;
        const n = readSync(fd, this.buf, len, want, null);
        len += n;
        if (n === 0 || (oneShow && n < want)) return len;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Names in a directory (throws when unreadable). */
  list(path: string): string[] {
    return readdirSync(path);
  }

  /** Subdirectory names; [] when the directory is gone. */
  subdirs(path: string): string[] {
    try {
      return readdirSync(path, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch (err) {
      if (isGone(err)) return [];
      throw err;
    }
  }

  /** Up to `length` bytes at `offset` (an ELF header of /proc/PID/exe); fewer at the end of the file. */
  readRange(path: string, offset: number, length: number): Buffer {
    const fd = openSync(path, 'r');
    try {
      const out = Buffer.alloc(length);
      let len = 0;
      while (len < length) {
        const n = readSync(fd, out, len, length - len, offset + len);
        if (n === 0) break;
        len += n;
      }
      return out.subarray(0, len);
    } finally {
      closeSync(fd);
    }
  }

  write(path: string, text: string): void {
    writeFileSync(path, text);
  }

  /** True when `path` is on a cgroup2 filesystem (CGROUP2_SUPER_MAGIC), not a fixture tree or a copy. */
  isCgroup2(path: string): boolean {
    try {
      return statfsSync(path).type === 0x63677270;
    } catch (err) {
      if (isGone(err)) return false;
      throw err;
    }
  }

  /** An fd held open for reading and writing (cgroup v2 memory.peak with its per-fd reset). */
  openReadWrite(path: string): number {
    return openSync(path, 'r+');
  }

  /** The whole content of a held fd, read from offset 0. */
  preadText(fd: number): string {
    const n = readSync(fd, this.buf, 0, this.buf.length, 0);
    return this.buf.toString('utf8', 0, n);
  }

  writeFd(fd: number, text: string): void {
    writeSync(fd, text);
  }

  closeFd(fd: number): void {
    closeSync(fd);
  }
}
