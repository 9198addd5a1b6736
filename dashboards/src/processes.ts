// "memlens / Processes": the biggest processes by RSS, PSS and USS, their anon/file/shmem split,
// swap and peak, and the per-group sums that cover every process.
import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { CGROUP, INSTANCE, dashboard, q } from './common.js';
import { sortDesc, table, timeseries } from './panels.js';

const SEL = CGROUP;
const TOP = 10;

export function processesDashboard(): Dashboard {
  return dashboard('memlens-processes', 'memlens / Processes',
    'Per-process memory from memlens (only the --process.top processes by RSS and --process.include matches have per-pid series; the groups cover every process).',
    { cgroup: true })
    .withRow(new RowBuilder('Top processes'))
    .withPanel(
      table('Top processes by resident memory', 'PSS and USS come from smaps_rollup (re-read every --process.smaps-interval).', { w: 24, h: 10 }, [
        { expr: `topk(20, memlens_process_resident_bytes{${SEL}})`, name: 'RSS', unit: 'bytes' },
        { expr: `memlens_process_pss_bytes{${SEL}}`, name: 'PSS', unit: 'bytes' },
        { expr: `memlens_process_uss_bytes{${SEL}}`, name: 'USS', unit: 'bytes' },
        { expr: `memlens_process_swap_bytes{${SEL}}`, name: 'swap', unit: 'bytes' },
        { expr: `memlens_process_resident_peak_bytes{${SEL}}`, name: 'peak RSS', unit: 'bytes' },
        { expr: `memlens_process_oom_score{${SEL}}`, name: 'oom_score', unit: 'short' },
      ])
        .sortBy([sortDesc('RSS')]),
    )
    .withRow(new RowBuilder('RSS, PSS, USS'))
    .withPanel(timeseries('Resident (RSS)', 'VmRSS: counts shared pages in full in every process mapping them.', 'bytes', { w: 8, h: 9 }, [
      q(`topk(${TOP}, memlens_process_resident_bytes{${SEL}})`, '{{comm}} ({{pid}})'),
    ]))
    .withPanel(timeseries('Proportional (PSS)', 'Shared pages divided among their users: PSS sums to the real total.', 'bytes', { w: 8, h: 9 }, [
      q(`topk(${TOP}, memlens_process_pss_bytes{${SEL}})`, '{{comm}} ({{pid}})'),
    ]))
    .withPanel(timeseries('Unique (USS)', 'Private pages only: what killing the process would free.', 'bytes', { w: 8, h: 9 }, [
      q(`topk(${TOP}, memlens_process_uss_bytes{${SEL}})`, '{{comm}} ({{pid}})'),
    ]))
    .withRow(new RowBuilder('What the memory is'))
    .withPanel(timeseries('Anon, file, shmem (resident)', 'RssAnon, RssFile, RssShmem of the top processes.', 'bytes', { w: 12, h: 9 }, [
      q(`topk(${TOP}, memlens_process_resident_anon_bytes{${SEL}})`, '{{comm}} ({{pid}}) anon'),
      q(`topk(${TOP}, memlens_process_resident_file_bytes{${SEL}})`, '{{comm}} ({{pid}}) file'),
      q(`topk(${TOP}, memlens_process_resident_shmem_bytes{${SEL}})`, '{{comm}} ({{pid}}) shmem'),
    ]))
    .withPanel(timeseries('Swap and peak', 'VmSwap and SwapPss; VmHWM, the highest RSS the process reached.', 'bytes', { w: 12, h: 9 }, [
      q(`topk(${TOP}, memlens_process_swap_bytes{${SEL}})`, '{{comm}} ({{pid}}) swap'),
      q(`topk(${TOP}, memlens_process_swap_pss_bytes{${SEL}})`, '{{comm}} ({{pid}}) swap PSS'),
      q(`topk(${TOP}, memlens_process_resident_peak_bytes{${SEL}})`, '{{comm}} ({{pid}}) peak'),
    ]))
    .withRow(new RowBuilder('Groups (every process)'))
    .withPanel(timeseries('Resident by group', 'Sum of VmRSS over each group (comm, or a config rule\'s name).', 'bytes', { w: 8, h: 9 }, [
      q(`topk(${TOP}, memlens_process_group_resident_bytes{${INSTANCE}})`, '{{group}}'),
    ]))
    .withPanel(timeseries('PSS and USS by group', 'Only with --process.smaps-scope=all.', 'bytes', { w: 8, h: 9 }, [
      q(`topk(${TOP}, memlens_process_group_pss_bytes{${INSTANCE}})`, '{{group}} PSS'),
      q(`topk(${TOP}, memlens_process_group_uss_bytes{${INSTANCE}})`, '{{group}} USS'),
    ]))
    .withPanel(timeseries('Processes by group', 'How many processes each group has.', 'short', { w: 8, h: 9 }, [
      q(`topk(${TOP}, memlens_process_group_processes{${INSTANCE}})`, '{{group}}'),
    ]))
    .withPanel(timeseries('Time spent reading smaps_rollup', 'The kernel walks each page table while the process waits: seconds per second.', 'percentunit', { w: 12, h: 7 }, [
      q(`rate(memlens_process_smaps_read_seconds_total{${INSTANCE}}[$__rate_interval])`, '{{instance}}'),
    ]))
    .withPanel(timeseries('smaps_rollup reads skipped', 'Processes above --process.smaps-max-rss, per second.', 'short', { w: 12, h: 7 }, [
      q(`rate(memlens_process_smaps_skipped_total{${INSTANCE}}[$__rate_interval])`, '{{instance}}'),
    ]))
    .build();
}
