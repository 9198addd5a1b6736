# Sourced by the bench scripts that measure builds of memlens side by side (cgscale.sh, pss-scale.sh).
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
