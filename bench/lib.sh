# Sourced by the bench scripts that measure builds of memlens side by side (cgscale.sh, pss-scale.sh, interval-scrape.sh).
# Needs BENCH (this directory) and REPO (the checkout) set by the caller.

build_of() { # DIR-or-empty -> a built memlens dir (git archive of HEAD when empty)
  if [ -n "$1" ]; then (cd "$1" && pwd); return; fi
  local sha dir
  sha=$(git -C "$REPO" rev-parse --short HEAD)
  dir="$BENCH/run/memlens-$sha"
  if [ ! -f "$dir/build/src/cli.js" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    git -C "$REPO" archive HEAD | tar -x -C "$dir"
    ln -s "$REPO/node_modules" "$dir/node_modules"
    (cd "$dir" && npm run -s build) >&2
  fi
  echo "$dir"
}

# The v1 files the cgroup collector of build DIR reads in each cgroup on this host, comma-separated (asked of the
# build itself: src/cgroupfs/memory.ts memoryFiles; test/unit/cgroupfs/scan.test.ts checks the reader reads exactly
# those), for bin/rawcg -f: the bare read of every cgroup file memlens reads.
rawcg_files_of() { # DIR MEMROOT
  (cd "$1" && SWAP=$([ -e "$2/memory.memsw.usage_in_bytes" ] && echo 1 || echo 0) node --input-type=module -e "
    import { readFileSync } from 'node:fs';
    import { memoryFiles } from './build/src/cgroupfs/memory.js';
    import { kernelMemoryAccounted } from './build/src/procfs/cmdline.js';
    console.log(memoryFiles('v1', kernelMemoryAccounted(readFileSync('/proc/cmdline', 'utf8')), process.env.SWAP === '1').join(','));
  ") || { echo "cannot ask $1 for its cgroup files (a build before memoryFiles): set RAWCG_FILES" >&2; return 1; }
}

# The items in an order shuffled by SEED (Fisher-Yates on bash's RANDOM, seeded: the same seed gives the same order),
# space-separated. For the columns of a bench round: a fixed order gives the column measured right after the bare
# rollup reader's page walk a penalty of 5-25 % in every round (bench/RESULTS.md, 2026-12-02 13:15).
shuffled() { # SEED ITEM...
  local a k j t
  RANDOM=$1; shift
  a=("$@")
  for ((k = ${#a[@]} - 1; k > 0; k--)); do j=$((RANDOM % (k + 1))); t=${a[$k]}; a[k]=${a[$j]}; a[j]=$t; done
  echo "${a[@]}"
}

# Children c00000.. of PARENT up to N, each with a v1 memory limit (64 MiB plus a step, so each differs) and no
# process; those already there are kept (a run grows 100 -> 1000 -> 3000).
grow_to() { # PARENT N
  mkdir -p "$1"
  local have i d
  have=$(find "$1" -mindepth 1 -maxdepth 1 -type d | wc -l)
  for ((i = have; i < $2; i++)); do
    d=$(printf '%s/c%05d' "$1" "$i"); mkdir "$d"
    echo $((64 * 1048576 + i * 4096)) >"$d/memory.limit_in_bytes"
  done
}

utst() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12, $13}'; } # PID -> utime stime (ticks, all threads)
kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status"; }             # PID KEY -> a /proc/PID/status field (kB)
