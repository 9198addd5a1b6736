#!/usr/bin/env bash
# A local stand-in for the official node image, for machines without a registry: this host's
# node and npm, the shared libraries they (and koffi's prebuilt addon) load, a static busybox as
# /bin/sh (npm runs install scripts through sh) and the CA bundle (npm reaches the registry),
# imported with `podman import`. Usage: make-base.sh IMAGE_NAME
set -euo pipefail
name=${1:?image name}
node=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")   # .../node_modules/npm
busybox=$(command -v busybox)
! ldd "$(readlink -f "$busybox")" >/dev/null 2>&1 || { echo "make-base: $busybox is not static (install busybox-static)" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,usr/bin,usr/lib,etc/ssl/certs,tmp,root,lib64}
chmod 1777 "$stage/tmp"
cp "$node" "$stage/usr/bin/node"
cp -a "$npm_dir" "$stage/usr/lib/npm"
ln -s ../lib/npm/bin/npm-cli.js "$stage/usr/bin/npm"
ln -s ../lib/npm/bin/npx-cli.js "$stage/usr/bin/npx"
cp "$(readlink -f "$busybox")" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
ln -s ../../bin/busybox "$stage/usr/bin/env"   # npm's shebang: #!/usr/bin/env node
# Libraries: node's, plus libc's loader and the NSS/DNS pieces getaddrinfo may load.
libs=$(ldd "$node" | awk '/=>/ {print $3} /ld-linux/ {print $1}')
for lib in $libs /lib/x86_64-linux-gnu/libresolv.so.2 /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2; do
  [ -e "$lib" ] || continue
  mkdir -p "$stage$(dirname "$lib")"
  cp -L "$lib" "$stage$lib"
done
# The host's CA bundle, with any CA its network adds for TLS (npm reaches the registry through it).
cp -L /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' > "$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$stage/etc/group"
printf 'hosts: files dns\n' > "$stage/etc/nsswitch.conf"
tar -C "$stage" -c . | podman import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' - "$name" >/dev/null
echo "$name"
