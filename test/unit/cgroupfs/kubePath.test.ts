// kubeIds on the cgroup path shapes each runtime and cgroup driver really makes (sources in
// src/cgroupfs/kubePath.ts). The memory hierarchy gives the same relative path on v1 and v2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubeIds, type KubeIds } from '../../../src/cgroupfs/kubePath.js';

const UID = '05b3ee07-a2bd-47e7-9599-7961201f20dd';
const U_ = UID.replace(/-/g, '_');
const STATIC = '6e3ed4d9c2bfc6a54e5e2d8ee5bd5c3f'; // a static pod's uid: md5 of its manifest
const CID = 'fa7f0ec4fbcbb70c69565a5b2d269926e04ec5601dff59235199d6e60198e95c';
const both: KubeIds = { podUid: UID, containerId: CID };

const cases: Array<[string, string, KubeIds]> = [
  // cgroupfs driver: containerd and Docker name the container's cgroup by its bare id; CRI-O prefixes crio-.
  ['cgroupfs, containerd/docker, burstable', `/kubepods/burstable/pod${UID}/${CID}`, both],
  ['cgroupfs, containerd/docker, besteffort', `/kubepods/besteffort/pod${UID}/${CID}`, both],
  ['cgroupfs, containerd/docker, guaranteed', `/kubepods/pod${UID}/${CID}`, both],
  ['cgroupfs, CRI-O', `/kubepods/burstable/pod${UID}/crio-${CID}`, both],
  ['cgroupfs, CRI-O conmon is no container', `/kubepods/burstable/pod${UID}/crio-conmon-${CID}`, { podUid: UID }],
  ['cgroupfs, pod level', `/kubepods/burstable/pod${UID}`, { podUid: UID }],
  ['cgroupfs, static pod (32-hex uid)', `/kubepods/burstable/pod${STATIC}/${CID}`, { podUid: STATIC, containerId: CID }],
  // systemd driver: slices repeat their parents' names, the uid's dashes become underscores.
  ['systemd, containerd, burstable', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice/cri-containerd-${CID}.scope`, both],
  ['systemd, containerd, besteffort', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${U_}.slice/cri-containerd-${CID}.scope`, both],
  ['systemd, containerd, guaranteed', `/kubepods.slice/kubepods-pod${U_}.slice/cri-containerd-${CID}.scope`, both],
  ['systemd, CRI-O', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice/crio-${CID}.scope`, both],
  ['systemd, CRI-O on v2: the container\'s processes in a child', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice/crio-${CID}.scope/container`, both],
  ['systemd, CRI-O conmon', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice/crio-conmon-${CID}.scope`, { podUid: UID }],
  ['systemd, Docker (dockershim, cri-dockerd)', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${U_}.slice/docker-${CID}.scope`, both],
  ['systemd, pod level', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice`, { podUid: UID }],
  ['systemd, static pod', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC}.slice/cri-containerd-${CID}.scope`, { podUid: STATIC, containerId: CID }],
  // A kubelet in a container (kind) or with a prefixed root.
  ['kind, systemd', `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${U_}.slice/cri-containerd-${CID}.scope`, both],
  ['kind, cgroupfs', `/kubelet/kubepods/burstable/pod${UID}/${CID}`, both],
  // Containers outside Kubernetes.
  ['docker, cgroupfs', `/docker/${CID}`, { containerId: CID }],
  ['docker, systemd', `/system.slice/docker-${CID}.scope`, { containerId: CID }],
  ['podman', `/machine.slice/libpod-${CID}.scope`, { containerId: CID }],
  ['podman conmon', `/machine.slice/libpod-conmon-${CID}.scope`, {}],
  // Nothing to find.
  ['root', '/', {}],
  ['QoS level', '/kubepods.slice/kubepods-burstable.slice', {}],
  ['QoS level, cgroupfs', '/kubepods/burstable', {}],
  ['a session', '/user.slice/user-1000.slice/session-3.scope', {}],
  ['63 hex is no id', `/kubepods/burstable/pod${UID}/${CID.slice(0, 63)}`, { podUid: UID }],
  ['65 hex is no id', `/kubepods/burstable/pod${UID}/${CID}0`, { podUid: UID }],
  ['upper-case hex is no id', `/docker/${CID.toUpperCase()}`, {}],
  ['pod in the middle of a word', `/workloads/ipod${UID}`, {}],
  ['a 64-hex directory deep in an unrelated tree', `/build/${CID}/step`, {}],
];

for (const [name, path, want] of cases) {
  test(`kubeIds: ${name}`, () => assert.deepEqual(kubeIds(path), want));
}
