// Malformed kernel text never throws out of a parser (DESIGN.md, "What bad input gets"): random
// strings and random damage to the real captured files. Every problem names the path it came from.
import { parseFlatKeyed, parseKbFields, parseSingleInt, textField } from '../../../src/procfs/common.js';
import { parseMeminfo } from '../../../src/procfs/meminfo.js';
import { parseMountinfo } from '../../../src/procfs/mountinfo.js';
import { parsePressure } from '../../../src/procfs/pressure.js';
import { memoryCgroupPath, parseProcCgroup } from '../../../src/procfs/procCgroup.js';
import { parseSmapsRollup } from '../../../src/procfs/smapsRollup.js';
import { parseStatus } from '../../../src/procfs/status.js';
import { parseStat } from '../../../src/procfs/stat.js';
import { parseVmstat } from '../../../src/procfs/vmstat.js';
import { fixture, neverThrows, PID, type FuzzedParser } from './fixtures.js';

type Parser = FuzzedParser;

const parsers: [string, Parser, [string, string][]][] = [
  ['status', parseStatus, [fixture('v1', `proc/${PID.v1}/status`), fixture('v2', `proc/${PID.v2}/status`)]],
  ['smaps_rollup', parseSmapsRollup, [fixture('v1', `proc/${PID.v1}/smaps_rollup`), fixture('v2', `proc/${PID.v2}/smaps_rollup`)]],
  ['stat', parseStat, [fixture('v1', `proc/${PID.v1}/stat`), fixture('v2', `proc/${PID.v2}/stat`)]],
  ['meminfo', parseMeminfo, [fixture('v1', 'proc/meminfo'), fixture('v2', 'proc/meminfo')]],
  ['vmstat', parseVmstat, [fixture('v1', 'proc/vmstat'), fixture('v2', 'proc/vmstat')]],
  ['pressure', parsePressure, [fixture('v1', 'proc/pressure/memory'), fixture('v2', 'sys/fs/cgroup/workloads/job-42c9/oomdemo/memory.pressure')]],
  ['mountinfo', parseMountinfo, [fixture('v1', 'proc/self/mountinfo'), fixture('v2', 'proc/self/mountinfo')]],
  ['proc cgroup', (t, p) => {
    const r = parseProcCgroup(t, p);
    memoryCgroupPath(r.value, 'v1');
    memoryCgroupPath(r.value, 'v2');
    return r;
  }, [fixture('v1', `proc/${PID.v1}/cgroup`), fixture('v2', `proc/${PID.v2}/cgroup`)]],
  ['kb fields', (t, p) => parseKbFields(t, p, new Set(['VmRSS', 'Pss', 'MemTotal'])), [fixture('v1', `proc/${PID.v1}/status`)]],
  ['flat keyed', parseFlatKeyed, [fixture('v1', 'proc/vmstat')]],
  ['single int', parseSingleInt, [fixture('v1', `proc/${PID.v1}/oom_score`), fixture('v2', `proc/${PID.v2}/oom_score_adj`)]],
  ['text field', (t) => (textField(t, 'Name'), { problems: [] }), [fixture('v1', `proc/${PID.v1}/status`)]],
];

const PATH = '/proc/fuzz/file';


neverThrows(parsers, PATH);
