// Is /proc/PID/exe a Go program? The Go runtime catches SIGQUIT, prints every goroutine's stack
// and exits with status 2 (pkg.go.dev/os/signal, "Default behavior of signals in Go programs"):
// a thread-dump rule meant for a JVM would kill it. Go linkers (gc and gccgo-free builds) always
// emit `.go.buildinfo` (1.13+) and `.gopclntab`; `strip` keeps sections, only symbols go. The
// section header table is near the end of the ELF file: three small reads.
import type { HostFs } from '../host/hostFs.js';

const GO_SECTIONS = new Set(['.go.buildinfo', '.gopclntab', '.note.go.buildid']);

/** true / false, or undefined when the executable cannot be read or is not an ELF file we understand. */
export function isGoBinary(host: HostFs, exePath: string): boolean | undefined {
  let h: Buffer;
  try {
    h = host.readRange(exePath, 0, 64);
  } catch {
    // Unreadable exe (a kernel thread, a process gone, no ptrace access): we cannot tell.
    return undefined;
  }
  if (h.length < 52 || h.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = h[4] === 2;
  const le = h[5] === 1;
  const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const uAddr = (b: Buffer, o: number): number => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));
  if (is64 && h.length < 64) return undefined;
  const shoff = uAddr(h, is64 ? 0x28 : 0x20);
  const shentsize = u16(h, is64 ? 0x3a : 0x2e);
  const shnum = u16(h, is64 ? 0x3c : 0x30);
  const shstrndx = u16(h, is64 ? 0x3e : 0x32);
  if (shoff === 0 || shnum === 0 || shnum > 4096 || shstrndx >= shnum || shentsize < (is64 ? 64 : 40)) return undefined;
  try {
    const table = host.readRange(exePath, shoff, shnum * shentsize);
    if (table.length < shnum * shentsize) return undefined;
    const strHdr = shstrndx * shentsize;
    const strOff = uAddr(table, strHdr + (is64 ? 0x18 : 0x10));
    const strSize = Math.min(uAddr(table, strHdr + (is64 ? 0x20 : 0x14)), 1 << 20);
    const names = host.readRange(exePath, strOff, strSize);
    for (let i = 0; i < shnum; i++) {
      const nameOff = u32(table, i * shentsize);
      if (nameOff >= names.length) continue;
      const end = names.indexOf(0, nameOff);
      const name = names.toString('latin1', nameOff, end < 0 ? names.length : end);
      if (GO_SECTIONS.has(name)) return true;
    }
    return false;
  } catch {
    // Truncated or odd ELF: not knowing is the answer, the caller stays on the safe side.
    return undefined;
  }
}
