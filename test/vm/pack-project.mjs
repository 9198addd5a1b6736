// Packs the project part of the test VM's initramfs, straight from the working tree into a gzip'd
// cpio (newc) archive, without copying files to a staging directory first (file creation is the slow
// part on these hosts). Called by build-vm.sh on every run:
//
//   node test/vm/pack-project.mjs ROOT OUT.cpio.gz [skip-lib ...]
//
// Archive contents:
//   /init                      test/vm/init.sh
//   /memlens/package.json, /memlens/bin/, /memlens/build/ (minus .tsbuildinfo)
//   /memlens/node_modules/...  production dependencies only: package.json "dependencies" (and
//                              optionalDependencies when installed), followed transitively with node's
//                              resolution rules; devDependencies are left out
//   shared libraries native addons (*.node) need that are not in skip-lib (node's own, in the base part)
import { createWriteStream, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createGzip } from 'node:zlib';

const [root, out, ...skipLibs] = process.argv.slice(2);
if (root === undefined && process.env.NODE_TEST_CONTEXT) process.exit(0); // picked up by `node --test` discovery
if (root === undefined || out === undefined) {
  console.error('usage: pack-project.mjs ROOT OUT.cpio.gz [skip-lib ...]');
  process.exit(2);
}

/** archive path (no leading slash) -> source path on the host, or null for a plain directory */
const entries = new Map();
function addDirs(archivePath) {
  const parts = archivePath.split('/');
  for (let i = 1; i < parts.length; i++) {
    const d = parts.slice(0, i).join('/');
    if (!entries.has(d)) entries.set(d, null);
  }
}
function add(archivePath, source) {
  addDirs(archivePath);
  entries.set(archivePath, source);
}
function addTree(archivePath, source, skip = () => false) {
  add(archivePath, source);
  if (!lstatSync(source).isDirectory()) return;
  for (const e of readdirSync(source, { withFileTypes: true })) {
    if (skip(e.name)) continue;
    addTree(`${archivePath}/${e.name}`, join(source, e.name), skip);
  }
}

add('init', join(root, 'test/vm/init.sh'));
add('memlens/package.json', join(root, 'package.json'));
addTree('memlens/bin', join(root, 'bin'));
addTree('memlens/build', join(root, 'build'), (name) => name === '.tsbuildinfo');

// Production dependency closure.
const seen = new Set();
const missing = [];
function resolveFrom(dir, name) {
  for (let d = dir; ; d = dirname(d)) {
    const cand = join(d, 'node_modules', name);
    if (existsSync(join(cand, 'package.json'))) return cand;
    if (d === root || d === dirname(d)) return undefined;
  }
}
function walk(dir) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const deps = pkg.dependencies ?? {};
  const opt = pkg.optionalDependencies ?? {};
  for (const name of Object.keys({ ...deps, ...opt })) {
    const found = resolveFrom(dir, name);
    if (found === undefined) {
      if (!(name in opt)) missing.push(`${name} (needed by ${relative(root, dir) || 'package.json'})`);
      continue;
    }
    if (seen.has(found)) continue;
    seen.add(found);
    walk(found);
  }
}
walk(root);
for (const m of missing) console.error(`pack-project: warning: dependency not installed: ${m}`);
for (const dir of seen) {
  const rel = relative(root, dir).split(sep).join('/');
  // A package's own nested node_modules holds its dependencies, which the walk lists by themselves.
  addTree(`memlens/${rel}`, dir, (name) => name === 'node_modules');
}

// Libraries of native addons built for glibc x86-64 (koffi ships musl and other platforms too).
const skip = new Set(skipLibs);
for (const [path, source] of [...entries]) {
  if (source === null || !path.endsWith('.node') || /musl|arm|ia32|riscv|loong|freebsd|darwin|win32/i.test(path)) continue;
  let ldd = '';
  try {
    ldd = execFileSync('ldd', [source], { encoding: 'utf8' });
  } catch {
    continue;
  }
  for (const m of ldd.matchAll(/=> (\/\S+)|^\s*(\/\S+) \(/gm)) {
    const lib = m[1] ?? m[2];
    if (lib === undefined || skip.has(lib)) continue;
    add(lib.slice(1), realpathSync(lib));
  }
}

// newc writer
const gz = createGzip({ level: 1 });
const file = createWriteStream(out);
gz.pipe(file);
let ino = 1;
let bytes = 0;
const pad4 = (n) => Buffer.alloc((4 - (n % 4)) % 4);
function hex8(n) {
  return (n >>> 0).toString(16).padStart(8, '0');
}
function header(name, mode, size, mtime, nlink) {
  const nameBuf = Buffer.from(name + '\0');
  const h = Buffer.from(
    '070701' +
      [ino++, mode, 0, 0, nlink, mtime, size, 0, 0, 0, 0, nameBuf.length, 0].map(hex8).join(''),
    'ascii',
  );
  return Buffer.concat([h, nameBuf, pad4(h.length + nameBuf.length)]);
}
function put(buf) {
  bytes += buf.length;
  return gz.write(buf);
}
const now = Math.floor(Date.now() / 1000);
for (const path of [...entries.keys()].sort()) {
  const source = entries.get(path);
  if (source === null) {
    put(header(path, 0o040755, 0, now, 2));
    continue;
  }
  const st = lstatSync(source);
  const mtime = Math.floor(st.mtimeMs / 1000);
  let data;
  if (st.isDirectory()) {
    put(header(path, 0o040000 | (st.mode & 0o7777), 0, mtime, 2));
    continue;
  } else if (st.isSymbolicLink()) {
    data = Buffer.from(readlinkSync(source));
    put(header(path, 0o120777, data.length, mtime, 1));
  } else if (st.isFile()) {
    data = readFileSync(source);
    put(header(path, path === 'init' ? 0o100755 : 0o100000 | (st.mode & 0o7777), data.length, mtime, 1));
  } else {
    continue; // sockets, fifos: nothing a test needs
  }
  put(data);
  if (!put(pad4(data.length))) await new Promise((r) => gz.once('drain', r));
}
put(header('TRAILER!!!', 0, 0, 0, 1));
gz.end();
await new Promise((resolve, reject) => {
  file.on('finish', resolve);
  file.on('error', reject);
});
console.error(
  `pack-project: ${entries.size} entries, ${seen.size} production packages, ${(bytes / 1048576).toFixed(1)} MiB uncompressed`,
);
