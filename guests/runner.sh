#!/bin/bash
# pinbench guest runner: runs inside the VM (root, host root shared read-only).
# Usage: runner.sh OUTDIR
# Reads OUTDIR/plan.tsv (name, timeout, script, params) written by the host and
# runs each workload under `timeout`, its output in OUTDIR/<name>.log and its exit
# code in OUTDIR/<name>.rc. Start/end markers go to /dev/kmsg so they land in the
# kernel console in order with any report the workload triggers.
# Oracles of its own, per workload: the FOLL_PIN counters must balance across it
# (a leak or a double unpin fails that workload, whatever the script said), and
# the taint flags before/after it are kept for the host (<name>.tainted.start|end), as are
# the pages oracle's readings (pages.sh: what its exited processes still hold).
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
here=$(dirname "$0")
# The FOLL_PIN counters (pins.sh) are kept around each workload as <name>.vmstat.start|end for
# the host's pages and --each (pins taken and released by each workload), and all of
# /proc/vmstat at guest start and end (vmstat.start|end: series.yaml expect: vmstat, the pins
# of the whole run, pin-balance's baseline). pages.sh: the pages oracle's readings.
. "$here/pins.sh"
. "$here/pages.sh"
. "$here/coverage.sh"  # cov_save, cov_reset: no-ops unless BENCH_COVERAGE=1

# pin_check NAME BEFORE: 0 when the pins held before the workload are held again after it.
pin_check() {
    local name=$1 before=$2 now first="" uncounted began=$SECONDS deadline=$((SECONDS + PIN_SETTLE))
    [ -n "$before" ] || return 0
    uncounted=$(pins_uncounted "$out/$name.pins-uncounted")
    while :; do
        now=$(( $(outstanding) + uncounted ))
        first=${first:-$now}
        [ "$now" = "$before" ] && return 0
        [ $SECONDS -ge $deadline ] && break
        sleep 1
    done
    local delta=$((now - before)) what="leaked (still held)"
    [ $delta -lt 0 ] && what="released more than acquired (double unpin)"
    echo "FAIL: pin imbalance during $name: $delta page pin(s) $what $((SECONDS - began))s after it ended" \
         "(waited up to ${PIN_SETTLE}s; outstanding $before before it, $first at the first look after, $now at the last;" \
         "$uncounted uncounted releases declared added back)"
    return 1
}

# udev's workers stay still while the workloads run. The root is 9p without cache=, so every
# read() of a file there is netfs unbuffered I/O that FOLL_PINs the reader's buffer, and the
# workers udev starts for the workloads' own devices (a block device closed after a write is
# probed again: loop, zram, scsi_debug disks) read files there: a pin of theirs taken before a
# check reads its baseline and dropped inside its window reads as that check's double unpin
# ("-1 pin(s) outstanding", seen twice on healthy kernels in pin-matrix's splice cells, runs
# 20261206-054311 and 20261206-075720), and their pages count in the pages oracle. The
# events wait in udev's queue; nothing the workloads use needs udev (devtmpfs makes the nodes).
udev_held=""
if grep -q virtme /proc/cmdline 2>/dev/null && command -v udevadm > /dev/null; then  # a guest's udev, never a host's
    timeout 30 udevadm settle 2>/dev/null
    udevadm control --stop-exec-queue 2>/dev/null && udev_held=1
fi
export BENCH_UDEV_HELD=$udev_held
sync; echo 3 > /proc/sys/vm/drop_caches  # the first workload's clean start (later ones: below)
timeout -s KILL 60 sh -c 'echo 1 > /proc/sys/vm/compact_memory' 2>/dev/null  # bounded: pages.sh compact_bounded()
settled_vmstat "$out/vmstat.start"
pages_setup
# The taint windows tile the run: one reading ends a workload's window and starts the next's
# (the first's starts at guest start), so nothing the runner does between two workloads, such
# as tearing down one's page cache, falls outside every window.
taint=$(cat /proc/sys/kernel/tainted)
echo "$taint" > "$out/tainted.start"
mark "guest ready: $(uname -r)"
cov_save boot  # what ran while booting, apart from the workloads
while IFS=$'\t' read -r name timeout script params; do
    [ -n "$name" ] || continue
    echo "$taint" > "$out/$name.tainted.start"
    before=$(settled_outstanding)  # the previous workload's pin_check waited for its unpins too
    pins > "$out/$name.vmstat.start"
    pages_start "$name"
    cov_reset
    mark "workload $name start"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086 # params are NAME=value words, checked on the host
    env $params BENCH_WORKLOAD="$name" timeout -k 10 "$timeout" bash "$script" \
        > "$out/$name.log" 2>&1 < /dev/null
    rc=$?
    pins > "$out/$name.vmstat.end"
    # Its page cache goes inside its own window (and console span): a report or taint from the
    # teardown of the folios it pinned is its own, and the next one starts clean. Pins are not
    # touched by it: pin_check below still waits for deferred unpins against $before.
    sync; echo 3 > /proc/sys/vm/drop_caches
    # A workload that passed or skipped still fails when it left the pin counters unbalanced.
    if ! pin_check "$name" "$before" >> "$out/$name.log" && { [ $rc -eq 0 ] || [ $rc -eq 4 ]; }; then
        rc=1
    fi
    cov_save "$name"  # after its teardown and deferred unpins (pin_check waited for them)
    pages_end "$name"  # after the pins came back: what its exited processes still hold
    end=$(date +%s.%N)
    taint=$(cat /proc/sys/kernel/tainted)
    echo "$taint" > "$out/$name.tainted.end"
    echo "$rc $start $end" > "$out/$name.rc"
    mark "workload $name end rc=$rc"
done < "$out/plan.tsv"
vmstat > "$out/vmstat.end"
cat /proc/sys/kernel/tainted > "$out/tainted.end"
[ -n "$udev_held" ] && udevadm control --start-exec-queue
mark "all workloads done"
sync
