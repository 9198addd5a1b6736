#!/bin/sh
# Builds what the cgroup v2 test VM boots: a Debian 6.1 kernel and an initramfs.
#
#   test/vm/build-vm.sh OUTDIR
#
# Writes OUTDIR/initrd.gz and prints, as its last lines on stdout:
#   MEMLENS_VM_KERNEL=/abs/path/to/vmlinux (or vmlinuz)
#   MEMLENS_VM_INITRD=OUTDIR/initrd.gz
#   MEMLENS_VM_KVER=6.1.0-NN-amd64
# Progress and timings go to stderr.
#
# Caching (under .vm-cache/ at the repository root, git-ignored):
#   kernel/<package>_<version>/{vmlinuz,vmlinux,config}  - keyed by the Debian package and version;
#                                   vmlinux is vmlinuz's payload uncompressed, booted through PVH
#   kernel/<package>_<version>/modules.cpio.gz - zsmalloc.ko and zram.ko at /lib/modules/, for a
#                                   compressed swap: without swap no page of the guest can be evicted
#                                   (its files live in RAM), so nothing could ever refault
#   base-<key>.cpio.gz - busybox, node, node's shared libraries, /etc files; keyed by those inputs
# The project part (build/, production node_modules, package.json, bin/, test/vm/init.sh as /init) is
# packed on every run by pack-project.mjs and appended as a second cpio archive (the kernel unpacks concatenated archives in order).
#
# Environment:
#   MEMLENS_VM_KERNEL_PKG  a linux-image package to use instead of the newest linux-image-6.1.0-*-amd64
#   MEMLENS_VM_NO_APT=1    never call apt-get (fail if something is missing)
set -eu

OUT=${1:?usage: build-vm.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE="$ROOT/.vm-cache"
mkdir -p "$CACHE" "$OUT"
OUT=$(cd "$OUT" && pwd)

log() { echo "build-vm: $*" >&2; }
die() { echo "build-vm: ERROR: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
T0=$(now_ms)

# One builder at a time fills the cache (parallel test runs share .vm-cache).
exec 9>"$CACHE/.lock"
flock 9

# ---- host tools -------------------------------------------------------------------------------
need_pkgs=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || need_pkgs="$need_pkgs qemu-system-x86"
[ -x /bin/busybox ] || need_pkgs="$need_pkgs busybox-static"
if [ -x /bin/busybox ] && ! /bin/busybox --list | grep -qx cpio; then
  die "/bin/busybox has no cpio applet (install busybox-static)"
fi
if [ -n "$need_pkgs" ]; then
  [ "${MEMLENS_VM_NO_APT:-}" = 1 ] && die "missing packages:$need_pkgs (MEMLENS_VM_NO_APT=1)"
  [ "$(id -u)" = 0 ] || die "missing packages:$need_pkgs and not root to install them"
  log "installing$need_pkgs"
  # shellcheck disable=SC2086
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need_pkgs >&2; then
    apt-get update >&2 || true
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need_pkgs >&2 ||
      die "apt-get install$need_pkgs failed"
  fi
fi
BB=/bin/busybox
NODE=$(readlink -f "$(command -v node)")
[ -x "$NODE" ] || die "no node binary on PATH"

# ---- kernel -----------------------------------------------------------------------------------
# "package version" of the newest linux-image-6.1.0-N-amd64 (or of $MEMLENS_VM_KERNEL_PKG), in one apt-cache call.
pick_kernel() {
  apt-cache search --names-only --full "$1" 2>/dev/null |
    awk '/^Package:/{p=$2} /^Version:/{print p, $2}' | sort -V | tail -n 1
}
if [ -n "${MEMLENS_VM_KERNEL_PKG:-}" ]; then
  KREGEX="^${MEMLENS_VM_KERNEL_PKG}\$"
else
  KREGEX='^linux-image-6\.1\.0-[0-9]+-amd64$'
fi
KPICK=""
if command -v apt-cache >/dev/null 2>&1; then
  KPICK=$(pick_kernel "$KREGEX")
  if [ -z "$KPICK" ] && [ "${MEMLENS_VM_NO_APT:-}" != 1 ] && [ "$(id -u)" = 0 ]; then
    log "no package matching $KREGEX in the apt lists; apt-get update"
    apt-get update >&2 || true
    KPICK=$(pick_kernel "$KREGEX")
  fi
fi
if [ -n "$KPICK" ]; then
  KPKG=${KPICK% *}
  KVERSION=${KPICK#* }
  KDIR="$CACHE/kernel/${KPKG}_$KVERSION"
  if [ ! -f "$KDIR/vmlinuz" ] || [ ! -f "$KDIR/modules.cpio.gz" ]; then
    t=$(now_ms)
    log "fetching $KPKG $KVERSION"
    tmp=$(mktemp -d "$CACHE/kernel-tmp.XXXXXX")
    chmod 755 "$tmp" # apt-get download hands the file to the _apt user when it can
    (cd "$tmp" && apt-get download "$KPKG=$KVERSION" >&2) || { rm -rf "$tmp"; die "apt-get download $KPKG=$KVERSION failed"; }
    deb=$(ls "$tmp"/*.deb)
    # Only ./boot and the zram modules are needed: faster than dpkg-deb -x of the whole package.
    mkdir -p "$tmp/x" "$tmp/k" "$tmp/m/lib/modules"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" --wildcards './boot/vmlinuz-*' './boot/config-*' '*/zsmalloc.ko' '*/zram.ko'
    mv "$tmp"/x/boot/vmlinuz-* "$tmp/k/vmlinuz"
    mv "$tmp"/x/boot/config-* "$tmp/k/config"
    find "$tmp/x" -name '*.ko' -exec mv {} "$tmp/m/lib/modules/" \;
    (cd "$tmp/m" && find . | LC_ALL=C sort | "$BB" cpio -o -H newc 2>/dev/null | gzip -1) >"$tmp/k/modules.cpio.gz"
    echo "${KPKG#linux-image-}" >"$tmp/k/kver"
    mkdir -p "$CACHE/kernel"
    rm -rf "$KDIR"
    mv "$tmp/k" "$KDIR"
    rm -rf "$tmp"
    # Older kernels are dead weight.
    for old in "$CACHE"/kernel/*/; do [ "${old%/}" = "$KDIR" ] || rm -rf "$old"; done
    log "kernel ready in $(( $(now_ms) - t )) ms"
  fi
else
  # No apt lists: fall back to the newest cached kernel.
  KDIR=$(ls -d "$CACHE"/kernel/*/ 2>/dev/null | sort -V | tail -n 1 | sed 's:/$::')
  [ -n "$KDIR" ] && [ -f "$KDIR/vmlinuz" ] || die "no package matching $KREGEX found by apt-cache, and no kernel cached"
  log "apt-cache found no kernel package; using the cached $KDIR"
fi
KVER=$(cat "$KDIR/kver")

# vmlinuz is a bzImage whose payload is xz-compressed; decompressing it costs ~5 s under TCG on every
# boot. Debian builds with CONFIG_PVH, so qemu can boot the uncompressed ELF vmlinux directly (PVH
# entry): extract it once. Falls back to vmlinuz if xz is missing or the payload is not xz.
if [ ! -f "$KDIR/vmlinux" ] && [ ! -f "$KDIR/vmlinux.none" ]; then
  off=$(node -e 'const b=require("fs").readFileSync(process.argv[1]); console.log(b.indexOf(Buffer.from([0xfd,0x37,0x7a,0x58,0x5a,0x00])))' "$KDIR/vmlinuz")
  if [ "$off" -ge 0 ] 2>/dev/null && command -v xz >/dev/null 2>&1 &&
     tail -c +$((off + 1)) "$KDIR/vmlinuz" | xz -dc --single-stream >"$KDIR/vmlinux.tmp" 2>/dev/null &&
     [ "$(head -c 4 "$KDIR/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] &&
     grep -qx 'CONFIG_PVH=y' "$KDIR/config"; then
    mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"
    log "extracted the uncompressed vmlinux (PVH boot)"
  else
    rm -f "$KDIR/vmlinux.tmp"
    echo "no xz payload, no xz, or no CONFIG_PVH" >"$KDIR/vmlinux.none"
    log "booting the compressed vmlinuz (could not extract vmlinux)"
  fi
fi
BOOT_KERNEL="$KDIR/vmlinuz"
[ -f "$KDIR/vmlinux" ] && BOOT_KERNEL="$KDIR/vmlinux"

# Everything the guest needs must be built in: there are no modules in the initramfs.
for opt in CGROUPS MEMCG PSI INOTIFY_USER EPOLL EVENTFD DEVTMPFS TMPFS BLK_DEV_INITRD RD_GZIP \
           SERIAL_8250_CONSOLE PROC_FS SYSFS UNIX BINFMT_SCRIPT; do
  grep -qx "CONFIG_$opt=y" "$KDIR/config" || die "kernel $KVER: CONFIG_$opt is not built in (=y)"
done

# ---- base initramfs (busybox, node, libraries, /etc) -------------------------------------------
BASE_FORMAT=4 # bump when the layout below changes
# node's symbol table and debug info are 13 MB the guest does not need (strip keeps .dynsym, which
# native addons link against); optional, since binutils may be missing.
STRIP=$(command -v strip || true)
libs_of() { ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}'; }
NODE_LIBS=$(libs_of "$NODE" | sort -u)
key_input=$(
  echo "format $BASE_FORMAT strip=${STRIP:+yes}"
  for f in "$BB" "$NODE" $NODE_LIBS; do
    stat -L -c '%n %s %Y %i' "$f"
  done
)
BASE_KEY=$(printf '%s\n' "$key_input" | sha256sum | cut -c1-16)
BASE="$CACHE/base-$BASE_KEY.cpio.gz"
if [ ! -f "$BASE" ]; then
  t=$(now_ms)
  log "building base initramfs $BASE_KEY (node $NODE, $(echo "$NODE_LIBS" | wc -w) libraries)"
  st=$(mktemp -d "$CACHE/base-tmp.XXXXXX")
  mkdir -p "$st"/bin "$st"/sbin "$st"/usr/bin "$st"/usr/sbin "$st"/etc "$st"/root "$st"/tmp \
           "$st"/proc "$st"/sys "$st"/dev "$st"/run "$st"/var
  chmod 1777 "$st/tmp"
  cp "$BB" "$st/bin/busybox"
  for applet in $("$BB" --list-full); do
    [ -e "$st/$applet" ] || ln -s /bin/busybox "$st/$applet"
  done
  if [ -n "$STRIP" ]; then
    "$STRIP" -o "$st/usr/bin/node" "$NODE"
  else
    cp "$NODE" "$st/usr/bin/node"
  fi
  for lib in $NODE_LIBS; do
    mkdir -p "$st$(dirname "$lib")"
    cp -L "$lib" "$st$lib"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$st/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$st/etc/group"
  echo memlens-vm >"$st/etc/hostname"
  printf '127.0.0.1 localhost memlens-vm\n::1 localhost\n' >"$st/etc/hosts"
  printf 'passwd: files\ngroup: files\nhosts: files\n' >"$st/etc/nsswitch.conf"
  (cd "$st" && find . | LC_ALL=C sort | "$BB" cpio -o -H newc 2>/dev/null | gzip -1) >"$st.cpio.gz"
  mv "$st.cpio.gz" "$BASE"
  rm -rf "$st"
  # Older bases are dead weight.
  for old in "$CACHE"/base-*.cpio.gz; do [ "$old" = "$BASE" ] || rm -f "$old"; done
  log "base initramfs: $(du -k "$BASE" | cut -f1) KiB in $(( $(now_ms) - t )) ms"
fi
flock -u 9

# ---- project part (every run) -------------------------------------------------------------------
t=$(now_ms)
[ -d "$ROOT/build" ] || die "no build/ - compile first (npx tsc -p .)"
[ -f "$HERE/init.sh" ] || die "missing $HERE/init.sh"
# shellcheck disable=SC2086
node "$HERE/pack-project.mjs" "$ROOT" "$OUT/project.cpio.gz" $NODE_LIBS || die "packing the project part failed"
MODULES="$KDIR/modules.cpio.gz"
[ -f "$MODULES" ] || MODULES=""
# shellcheck disable=SC2086
cat "$BASE" $MODULES "$OUT/project.cpio.gz" >"$OUT/initrd.gz"
log "project part: $(du -k "$OUT/project.cpio.gz" | cut -f1) KiB in $(( $(now_ms) - t )) ms"
log "initrd $(du -k "$OUT/initrd.gz" | cut -f1) KiB, kernel $KVER ($(du -k "$KDIR/vmlinuz" | cut -f1) KiB); total $(( $(now_ms) - T0 )) ms"

echo "MEMLENS_VM_KERNEL=$BOOT_KERNEL"
echo "MEMLENS_VM_INITRD=$OUT/initrd.gz"
echo "MEMLENS_VM_KVER=$KVER"
