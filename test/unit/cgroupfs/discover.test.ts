import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findMemoryHierarchy, kubeIds } from '../../../src/cgroupfs/discover.js';
import { parseMountinfo } from '../../../src/procfs/mountinfo.js';
import { fixture } from '../procfs/fixtures.js';

const mounts = (text: string) => parseMountinfo(text, '/proc/self/mountinfo').value;
/** cgroup.controllers per mount point; undefined for a mount point without the file. */
const controllers = (table: Record<string, string>) => (mp: string): string | undefined => table[mp];

test('findMemoryHierarchy: the real v1 host (systemd hybrid) picks v1 memory, not the controller-less unified v2', () => {
  const [text] = fixture('v1', 'proc/self/mountinfo');
  const [unified] = fixture('v1', 'sys/fs/cgroup/unified/cgroup.controllers');
  const h = findMemoryHierarchy(mounts(text), controllers({ '/sys/fs/cgroup/unified': unified }));
  assert.deepEqual(h, { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' });
});

test('findMemoryHierarchy: the v2 tree (cgroup2 at /sys/fs/cgroup with memory)', () => {
  const [text] = fixture('v2', 'proc/self/mountinfo');
  const [ctl] = fixture('v2', 'sys/fs/cgroup/cgroup.controllers');
  assert.deepEqual(findMemoryHierarchy(mounts(text), controllers({ '/sys/fs/cgroup': ctl })), { mode: 'v2', mountPoint: '/sys/fs/cgroup', root: '/' });
});

test('findMemoryHierarchy: hybrid with the cgroup2 line first and v1 memory after it still picks v1', () => {
  const t = '31 23 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n'
    + '32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid shared:5 - cgroup2 cgroup2 rw,nsdelegate\n'
    + '33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid shared:6 - cgroup cgroup rw,xattr,name=systemd\n'
    + '38 31 0:35 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory\n';
  const h = findMemoryHierarchy(mounts(t), controllers({ '/sys/fs/cgroup/unified': '\n' }));
  assert.deepEqual(h, { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' });
});

test('findMemoryHierarchy: memory co-mounted with other v1 controllers; a cgroup namespace root', () => {
  const t = '40 31 0:40 /docker/abc /sys/fs/cgroup/cpu,memory ro - cgroup cgroup rw,cpu,memory\n';
  assert.deepEqual(findMemoryHierarchy(mounts(t), controllers({})), { mode: 'v1', mountPoint: '/sys/fs/cgroup/cpu,memory', root: '/docker/abc' });
  const ns = '1200 1100 0:27 /kubepods.slice/kubepods-pod1.slice /sys/fs/cgroup ro - cgroup2 cgroup rw\n';
  assert.deepEqual(findMemoryHierarchy(mounts(ns), controllers({ '/sys/fs/cgroup': 'cpu io memory pids' })), {
    mode: 'v2', mountPoint: '/sys/fs/cgroup', root: '/kubepods.slice/kubepods-pod1.slice',
  });
});

test('findMemoryHierarchy: no memory controller anywhere gives undefined', () => {
  const v2NoMemory = '32 22 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
  assert.equal(findMemoryHierarchy(mounts(v2NoMemory), controllers({ '/sys/fs/cgroup': 'cpu io pids\n' })), undefined);
  assert.equal(findMemoryHierarchy(mounts(v2NoMemory), controllers({})), undefined); // cgroup.controllers unreadable
  // "memory_recursiveprot" is a mount option, not the controller; "hugetlb" must not match "memory" by substring.
  assert.equal(findMemoryHierarchy(mounts(v2NoMemory), controllers({ '/sys/fs/cgroup': 'memoryx hugetlb' })), undefined);
  const v1NoMemory = '32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n';
  assert.equal(findMemoryHierarchy(mounts(v1NoMemory), controllers({})), undefined);
  assert.equal(findMemoryHierarchy([], controllers({})), undefined);
});

const UID = '0f9a8e3c-5d2b-4c1e-9a7f-3b6d8e2c1a40';
const UID_ = UID.replace(/-/g, '_');
const CID = '4c01db0b339c5ad6cab3f6e3c2b0d8e9f1a2b3c4d5e6f708192a3b4c5d6e7f80';

test('kubeIds: systemd cgroup driver with containerd, CRI-O and docker', () => {
  const pod = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`;
  assert.equal(CID.length, 64);
  assert.deepEqual(kubeIds(`${pod}/cri-containerd-${CID}.scope`), { podUid: UID, containerId: CID });
  assert.deepEqual(kubeIds(`${pod}/crio-${CID}.scope`), { podUid: UID, containerId: CID });
  assert.deepEqual(kubeIds(`${pod}/docker-${CID}.scope`), { podUid: UID, containerId: CID });
  assert.deepEqual(kubeIds(pod), { podUid: UID });
  assert.deepEqual(kubeIds(`/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${CID}.scope`), { podUid: UID, containerId: CID }); // Guaranteed QoS
  assert.deepEqual(kubeIds(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice`), { podUid: UID });
});

test('kubeIds: cgroupfs driver (v1 layout) with containerd and docker', () => {
  assert.deepEqual(kubeIds(`/kubepods/burstable/pod${UID}/${CID}`), { podUid: UID, containerId: CID });
  assert.deepEqual(kubeIds(`/kubepods/pod${UID}/${CID}`), { podUid: UID, containerId: CID });
  assert.deepEqual(kubeIds(`/kubepods/besteffort/pod${UID}`), { podUid: UID });
});

test('kubeIds: paths that carry nothing give no keys at all', () => {
  assert.deepEqual(kubeIds('/'), {});
  assert.deepEqual(kubeIds('/workloads/job-7f3a/oomdemo'), {});
  assert.deepEqual(kubeIds('/kubepods.slice/kubepods-burstable.slice'), {});
  assert.deepEqual(kubeIds('/user.slice/user-1000.slice/session-3.scope'), {});
  assert.deepEqual(kubeIds(`/kubepods/burstable/pod${UID}/${CID.slice(0, 63)}`), { podUid: UID }); // 63 hex: not an id
  assert.deepEqual(kubeIds(`/system.slice/docker-${CID}.scope`), { containerId: CID }); // plain docker, no pod
});
