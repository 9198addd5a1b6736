// Host memory: /proc/meminfo, /proc/vmstat oom_kill, /proc/pressure/memory.
import * as c from '../model/catalog.js';
import type { HostFs } from '../host/hostFs.js';
import { parseMeminfo } from '../procfs/meminfo.js';
import { parseVmstat } from '../procfs/vmstat.js';
import { parsePressure } from '../procfs/pressure.js';
import type { Collector } from './collector.js';
import { SampleSink } from './samples.js';
import type { CollectResult, MetricDesc } from '../model/types.js';

export const HOST_METRICS: readonly MetricDesc[] = [c.hostMemTotal, c.hostMemAvailable, c.hostSwapTotal, c.hostSwapFree, c.hostOomKills, c.hostPressure];

export class HostCollector implements Collector {
  readonly name = 'host';
  readonly metrics = HOST_METRICS;

  // async: a failure must reach the runner as a rejected promise, never as a synchronous throw.
  // eslint-disable-next-line @typescript-eslint/require-await
  async collect(host: HostFs): Promise<CollectResult> {
    const out = new SampleSink();
    // meminfo is the one file this area cannot do without: let its failure fail the area.
    const memPath = host.proc('meminfo');
    const mem = parseMeminfo(host.read(memPath), memPath);
    out.parseProblems(mem.problems);
    out.add(c.hostMemTotal, {}, mem.value.totalBytes);
    out.add(c.hostMemAvailable, {}, mem.value.availableBytes);
    out.add(c.hostSwapTotal, {}, mem.value.swapTotalBytes);
    out.add(c.hostSwapFree, {}, mem.value.swapFreeBytes);

    const vmPath = host.proc('vmstat');
    const vm = host.tryRead(vmPath);
    if (vm !== undefined) out.add(c.hostOomKills, {}, parseVmstat(vm, vmPath).value.oomKill);

    // Absent without CONFIG_PSI or with psi=0 on the command line: no sample, not a failure.
    const psiPath = host.proc('pressure/memory');
    let psiText: string | undefined;
    try {
      psiText = host.tryRead(psiPath);
    } catch (err) {
      // EOPNOTSUPP when PSI is compiled in but disabled at boot.
      out.problem('psi_unavailable', String(err), psiPath);
    }
    if (psiText !== undefined) {
      const psi = parsePressure(psiText, psiPath);
      out.parseProblems(psi.problems);
      out.add(c.hostPressure, { kind: 'some' }, psi.value.some?.totalSeconds);
      out.add(c.hostPressure, { kind: 'full' }, psi.value.full?.totalSeconds);
    }
    return out.result();
  }
}
