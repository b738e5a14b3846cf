#!/bin/bash
# pinbench guest runner: runs inside the VM (root, host root shared read-only).
# Usage: runner.sh OUTDIR
# Reads OUTDIR/plan.tsv (name, timeout, script, params) written by the host and
# runs each workload under `timeout`, its output in OUTDIR/<name>.log and its exit
# code in OUTDIR/<name>.rc. Start/end markers go to /dev/kmsg so they land in the
# kernel console in order with any report the workload triggers.
set -u
out=$1
if ! touch "$out/.writable" 2>/dev/null || [ ! -r "$out/plan.tsv" ]; then
    echo "pinbench runner: $out is not the writable results folder with plan.tsv (vng --rwdir?)" >&2
    exit 3
fi
export BENCH_OUT=$out
# BENCH_SRC, BENCH_BUILD, BENCH_HOME: the worktree, build dir and project, written by the host
if [ -f "$out/env" ]; then set -a; . "$out/env"; set +a; fi
mark() { echo "pinbench: $*" > /dev/kmsg 2>/dev/null || true; }
# The FOLL_PIN counters now, per-CPU deltas folded first (exact); kept around each workload
# as <name>.vmstat.start|end for the host's pages and --each (pins taken and released by each
# workload). All of /proc/vmstat, folded the same way, at guest start and end
# (vmstat.start|end: series.yaml expect: vmstat, and the pins of the whole run).
pins() { echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null; grep -E '^nr_foll_pin_(acquired|released) ' /proc/vmstat; }
vmstat() { echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null; cat /proc/vmstat; }

vmstat > "$out/vmstat.start"
cat /proc/sys/kernel/tainted > "$out/tainted.start"
mark "guest ready: $(uname -r)"
while IFS=$'\t' read -r name timeout script params; do
    [ -n "$name" ] || continue
    pins > "$out/$name.vmstat.start"
    mark "workload $name start"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086 # params are NAME=value words, checked on the host
    env $params BENCH_WORKLOAD="$name" timeout -k 10 "$timeout" bash "$script" \
        > "$out/$name.log" 2>&1 < /dev/null
    rc=$?
    end=$(date +%s.%N)
    pins > "$out/$name.vmstat.end"
    echo "$rc $start $end" > "$out/$name.rc"
    mark "workload $name end rc=$rc"
done < "$out/plan.tsv"
cat /proc/sys/kernel/tainted > "$out/tainted.end"
vmstat > "$out/vmstat.end"
mark "all workloads done"
sync
