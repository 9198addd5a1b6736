#!/bin/sh
# /init of the memlens test VM (busybox sh). Sets up a minimal system with cgroup v2 at /sys/fs/cgroup,
# runs the node test runner over the test entry named on the kernel command line, prints its TAP output
# framed for the host (test/vm/run-vm.mjs), then powers off.
#
# Kernel command line parameters read here:
#   memlens.test=PATH[,PATH...]  test files or directories (searched for *.test.js), relative to /memlens;
#                                default build/test/v2
#   memlens.timeout=SECONDS      kill the guest test run after this long (default 200)
#   memlens.failtest=1           exported as MEMLENS_FAILTEST=1 (a test then fails on purpose)
#   memlens.env.NAME=VALUE       exported as NAME=VALUE
#
# Console protocol (one per line):
#   MEMLENS-VM-INFO {...}        kernel and node versions (before the frame)
#   MEMLENS-VM-BEGIN
#   ...TAP output of node --test --test-reporter=tap...
#   MEMLENS-VM-ERROR text        a problem the guest noticed (may appear inside the frame)
#   MEMLENS-VM-RESULT {"pass":N,"fail":N,"cancelled":N,"skipped":N,"todo":N,"exit":N,"summary":true|false}
#   MEMLENS-VM-END

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
# Keep kernel chatter (OOM reports, ...) off the console so it cannot interleave with the TAP stream;
# everything is still in /dev/kmsg.
dmesg -n 1

off() {
  sync
  poweroff -f
  echo o >/proc/sysrq-trigger
  sleep 5
  exit 1 # init exiting panics; panic=-1 and qemu -no-reboot end the VM
}
result() { # exit pass fail cancelled skipped todo summary
  echo "MEMLENS-VM-RESULT {\"pass\":$2,\"fail\":$3,\"cancelled\":$4,\"skipped\":$5,\"todo\":$6,\"exit\":$1,\"summary\":$7}"
  echo "MEMLENS-VM-END"
}

mkdir -p /dev/pts /dev/shm /sys/fs/cgroup /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
hostname memlens-vm
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up

setup_error=""
if ! mount -t cgroup2 cgroup2 /sys/fs/cgroup; then
  setup_error="mount -t cgroup2 failed"
elif ! echo +memory >/sys/fs/cgroup/cgroup.subtree_control; then
  setup_error="could not enable the memory controller (+memory in cgroup.subtree_control)"
fi

TEST=build/test/v2
TIMEOUT=200
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    memlens.test=*) TEST=${arg#memlens.test=} ;;
    memlens.timeout=*) TIMEOUT=${arg#memlens.timeout=} ;;
    memlens.failtest=*) export MEMLENS_FAILTEST="${arg#memlens.failtest=}" ;;
    memlens.env.*=*)
      kv=${arg#memlens.env.}
      export "${kv%%=*}=${kv#*=}"
      ;;
  esac
done
export MEMLENS_IN_VM=1

cd /memlens || { echo "MEMLENS-VM-BEGIN"; echo "MEMLENS-VM-ERROR no /memlens in the initramfs"; result 127 0 0 0 0 0 false; off; }

echo # a newline, in case firmware output did not end its line
echo "MEMLENS-VM-INFO {\"kernel\":\"$(uname -r)\",\"node\":\"$(node --version 2>&1)\",\"cgroup_controllers\":\"$(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)\",\"subtree_control\":\"$(cat /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null)\"}"
echo "MEMLENS-VM-BEGIN"
if [ -n "$setup_error" ]; then
  echo "MEMLENS-VM-ERROR $setup_error"
  result 126 0 0 0 0 0 false
  off
fi

files=""
for entry in $(echo "$TEST" | tr ',' ' '); do
  if [ -d "$entry" ]; then
    files="$files $(find "$entry" -name '*.test.js' -type f | LC_ALL=C sort | tr '\n' ' ')"
  elif [ -f "$entry" ]; then
    files="$files $entry"
  else
    echo "MEMLENS-VM-ERROR no such test file or directory in the guest: $entry"
  fi
done
if [ -z "$(echo $files)" ]; then
  echo "MEMLENS-VM-ERROR no test files to run (memlens.test=$TEST)"
  result 127 0 0 0 0 0 false
  off
fi

rm -f /tmp/rc
# shellcheck disable=SC2086
{ timeout -s KILL "$TIMEOUT" node --test --test-reporter=tap --test-concurrency=1 $files; echo $? >/tmp/rc; } 2>&1 |
  tee /tmp/tap.txt
rc=$(cat /tmp/rc 2>/dev/null || echo 125)
[ "$rc" = 137 ] && echo "MEMLENS-VM-ERROR the guest test run was killed (timeout ${TIMEOUT}s inside the guest?)"

count() { sed -n "s/^# $1 \([0-9][0-9]*\)\$/\1/p" /tmp/tap.txt | tail -n 1; }
pass=$(count pass)
fail=$(count fail)
if [ -n "$pass" ] && [ -n "$fail" ]; then
  summary=true
else
  # No summary (runner killed): count the top-level results that did come out.
  summary=false
  pass=$(grep -c '^ok ' /tmp/tap.txt)
  fail=$(grep -c '^not ok ' /tmp/tap.txt)
fi
cancelled=$(count cancelled)
skipped=$(count skipped)
todo=$(count todo)
result "$rc" "$pass" "$fail" "${cancelled:-0}" "${skipped:-0}" "${todo:-0}" "$summary"
off
