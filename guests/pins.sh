# shellcheck shell=bash
# FOLL_PIN counter readings, sourced by runner.sh (around each workload) and pin-balance.sh
# (across the run), so both read the counters the same way.

# Per-CPU vmstat deltas reach /proc/vmstat lazily: fold them first (exact). pins: the two
# nr_foll_pin_* lines; vmstat: all of /proc/vmstat.
pins() { echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null; grep -E '^nr_foll_pin_(acquired|released) ' /proc/vmstat; }
vmstat() { echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null; cat /proc/vmstat; }
# outstanding [FILE]: nr_foll_pin_acquired - nr_foll_pin_released, now or in a saved vmstat FILE
# ("" when the kernel has no counters)
outstanding() {
    { if [ $# -gt 0 ]; then cat "$1"; else vmstat; fi; } |
        awk '$1 == "nr_foll_pin_acquired" { a = $2; n++ } $1 == "nr_foll_pin_released" { r = $2; n++ }
             END { if (n == 2) print a - r }'
}
PIN_SETTLE=${PIN_SETTLE:-8}  # seconds to wait for deferred unpins (workqueues, RCU, io_uring teardown)

# settled_vmstat FILE: all of /proc/vmstat into FILE once its outstanding pins agree with a
# reading half a second before (at most PIN_SETTLE seconds). Reads of the 9p root go through
# netfs, which pins the reader's buffer for the I/O: another process's read in flight shows as
# a pin for a moment, and a baseline taken at that moment made the workload after it look like
# a double unpin (seen on a real 6.12 boot: "outstanding 1 -> 0" across smoke, while the
# counters read just after balanced). Every pin baseline is taken this way.
settled_vmstat() {
    local prev now deadline=$((SECONDS + PIN_SETTLE))
    vmstat > "$1"
    prev=$(outstanding "$1")
    while :; do
        sleep 0.5
        vmstat > "$1"
        now=$(outstanding "$1")
        { [ "$now" = "$prev" ] || [ $SECONDS -ge $deadline ]; } && return 0
        prev=$now
    done
}

# settled_outstanding: outstanding pins now, read as settled_vmstat reads them.
settled_outstanding() {
    local f
    f=$(mktemp) || return 1
    settled_vmstat "$f"
    outstanding "$f"
    rm -f "$f"
}

# pins_uncounted FILE...: the sum of the releases workloads declared beyond the acquisitions
# counted (0 when none): on 6.12 fs/direct-io.c adds pins with folio_add_pin(), which counts no
# nr_foll_pin_acquired, and its unpins count. pin-matrix's dio/vfat/* cells measure theirs
# (docs/matrix.md). A declaration that is not a count adds nothing, so the balance still
# reads the double unpin it would have excused.
pins_uncounted() {
    local f n sum=0
    for f in "$@"; do
        [ -f "$f" ] || continue
        n=$(head -c 32 "$f")
        case $n in '' | *[!0-9]*) continue ;; esac
        sum=$((sum + n))
    done
    echo "$sum"
}
