#!/bin/bash
# format.sh results/N<N>.txt: the markdown table, ratios and target verdicts of one run.sh result file.
set -euo pipefail
F=${1:?usage: format.sh results/N<N>.txt}
awk '
function mib(kb) { return sprintf("%.1f", kb / 1024) }
function g(key,   i) { for (i = 1; i <= NF; i++) { if ($i == key) return $(i + 1); if (index($i, key "=") == 1) return substr($i, length(key) + 2) } return "" }
function g3(key,  i) { for (i = 1; i < NF; i++) if ($i == key) return $(i+1) " " $(i+2) " " $(i+3); return "" }
function f(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
/^# N=/ { split($2, a, "="); N = a[2]; hdr = $0 }
/^RESULT/ {
  label = $2
  split(g3("wall_ms"), w, " ")
  if (label ~ /^raw-/) {
    split(g3("cpu_ms"), cp, " ")
    cpu[label] = cp[1]; cpuinfo = f(cp[1]) " (" f(cp[2]) "–" f(cp[3]) ")"
    rss = mib(g("maxrss_kb")); cold = g("first_wall_ms"); units = g("units") " / " g("rollups")
    idle = ""
  } else {
    cpu[label] = g("cpu_ms_per_scrape"); cpuinfo = f(cpu[label]) " (avg)"
    rss = g("hwm_mb"); cold = g("first_wall_ms"); units = g("pids")
    idle = g("idle_rss_mb") " → " $(idxof("rss_mb") + 2)
  }
  row[++nr] = sprintf("| %s | %s | %s | %s (%s–%s) | %s | %s | %s | %s |", label, units, cpuinfo, f(w[1]), f(w[2]), f(w[3]), f(cold), rss, idle, g("bg_cpu_busy_pct") " / " g("busy_during_pct"))
  hwm[label] = rss
}
function idxof(key,  i) { for (i = 1; i < NF; i++) if ($i == key) return i; return 0 }
END {
  print "### N = " N
  print ""
  print "| row | pids (raw: status files / rollups) | CPU ms/scrape med (min–max) | wall ms med (min–max) | cold 1st wall ms | peak RSS MiB | RSS MiB idle → after | machine busy % before / during |"
  print "|---|---|---:|---|---:|---:|---|---|"
  for (i = 1; i <= nr; i++) print row[i]
  print ""
  # the bare read of what each memlens configuration reads (rawread -f status-stat-rollup / status-stat)
  rb = cpu["raw-status-stat-rollup"]; rs = cpu["raw-status-stat"]; pe = cpu["process-exporter-smaps"]; md = cpu["memlens-default"]; mp = cpu["memlens-pss-all"]
  if (rb > 0 && mp != "") printf "- memlens pss-all CPU / raw-status-stat-rollup CPU = %.2f (target ≤ 1.3 at N=1000)\n", mp / rb
  if (rs > 0 && md != "") printf "- memlens default CPU / raw-status-stat CPU = %.2f\n", md / rs
  if (pe > 0 && md != "") printf "- memlens default CPU / process-exporter CPU = %.2f (target ≤ 0.33 at N=1000)\n", md / pe
  if (pe > 0 && mp != "") printf "- memlens pss-all CPU / process-exporter CPU = %.2f\n", mp / pe
  if (rb > 0 && pe != "") printf "- process-exporter CPU / raw-status-stat-rollup CPU = %.2f\n", pe / rb
  printf "- memlens peak RSS (VmHWM): default %s MiB, pss-all %s MiB (target < 100 MiB at N=3000)\n", hwm["memlens-default"], hwm["memlens-pss-all"]
  if (N == 1000) {
    printf "- verdict N=1000 pss-all ≤ 1.3× raw-status-stat-rollup: %s (%.2f×)\n", (mp / rb <= 1.3 ? "met" : "NOT met"), mp / rb
    printf "- verdict N=1000 default ≤ 1/3 process-exporter: %s (%.2f×)\n", (md / pe <= 1/3 ? "met" : "NOT met"), md / pe
  }
  if (N == 3000) {
    m = hwm["memlens-default"] + 0; if (hwm["memlens-pss-all"] + 0 > m) m = hwm["memlens-pss-all"] + 0
    printf "- verdict N=3000 peak RSS < 100 MiB: %s (max VmHWM %.1f MiB)\n", (m < 100 ? "met" : "NOT met"), m
  }
}' "$F"
