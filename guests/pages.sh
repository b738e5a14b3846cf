# shellcheck shell=bash
# The pages oracle's guest side, sourced by runner.sh: readings only, the host judges them
# (bench/run/leaks.py). Around each workload: the pid counter (its processes are the pids it
# created), /proc/meminfo, and after it ended, once sync, drop_caches and compaction ran, the
# page_owner records of pages still allocated to any of those pids, and which of them still live.
PAGE_OWNER=${PAGE_OWNER:-/sys/kernel/debug/page_owner}
PAGE_OWNER_KEEP=${PAGE_OWNER_KEEP:-5000}  # records kept a workload: a huge leak must not fill the disk
PAGE_OWNER_LOOKUPS=${PAGE_OWNER_LOOKUPS:-300}  # of them, how many get their map count looked up

# pages_setup: debugfs mounted; whether page_owner can be read (the host tells "off on the
# command line" from "the kernel under test broke it" with the .config and /proc/cmdline).
pages_setup() {
    mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
    cat /proc/cmdline > "$out/cmdline"
    if [ -r "$PAGE_OWNER" ]; then echo present; else echo missing; fi > "$out/page_owner.state"
}

# last_pid: LAST_PID = the pid handed out last, read without a fork (/proc/loadavg's fifth
# field: every kernel has it, unlike /proc/sys/kernel/ns_last_pid, which needs CONFIG_PID_NS).
last_pid() { local _; read -r _ _ _ _ LAST_PID < /proc/loadavg; LAST_PID=${LAST_PID:-0}; }

# pages_start NAME: the last pid handed out before the workload, and the hugetlb pool's size.
pages_start() {
    last_pid
    echo "$LAST_PID" > "$out/$1.pids"
    read -r HUGE_POOL < /proc/sys/vm/nr_hugepages
    read -r HUGE_OVERCOMMIT < /proc/sys/vm/nr_overcommit_hugepages
    cat /proc/meminfo > "$out/$1.meminfo.start"
}

# alive: the pids that exist now (their pages are theirs, not leaks).
alive() { local p; for p in /proc/[0-9]*; do echo "${p#/proc/}"; done; }

# Compaction, bounded: a kernel that leaves folios isolated (an isolate path that never puts
# back) makes a write to compact_memory wait for them for ever (6.12 mm/compaction.c
# too_many_isolated(), retried after reclaim_throttle()); SIGKILL ends that wait
# (fatal_signal_pending), and the line says why, for leaks.py. Nothing printed: it finished.
compact_bounded() {
    local secs=${COMPACT_TIMEOUT:-60}
    timeout -s KILL "$secs" sh -c 'echo 1 > /proc/sys/vm/compact_memory' 2>/dev/null
    [ $? = 137 ] && echo "did not finish in $secs s (nr_isolated_anon $(awk '$1 == "nr_isolated_anon" { print $2 }' /proc/vmstat), nr_isolated_file $(awk '$1 == "nr_isolated_file" { print $2 }' /proc/vmstat))"
    return 0
}

# owner_read LO HI: the page_owner records whose tgid is in (LO, HI], wrapping at pid_max; one
# record a paragraph, its header line names the tgid. Through cat: a read() of page_owner
# returns one record, or ENOMEM when the record does not fit in what is asked, and awk asks for
# what is left of its buffer (cat asks for 128 KiB every time).
owner_read() {
    cat "$PAGE_OWNER" | awk -v lo="$1" -v hi="$2" -v keep="$PAGE_OWNER_KEEP" 'BEGIN { RS = "" }
        { all++ }
        match($0, /, tgid [0-9]+ /) {
            t = substr($0, RSTART + 7, RLENGTH - 8) + 0
            if (lo <= hi ? t > lo && t <= hi : t > lo || t <= hi) { if (++n <= keep) print $0 "\n" }
        }
        END { printf "pinbench: %d record(s) read, %d in the window, %d kept\n", all, n, (n > keep ? keep : n) }'
}

# pages_end NAME: after the workload ended (its pins too). The window is (first line, second
# line] of NAME.pids, wrapping at pid_max; NAME.page_owner keeps the records whose tgid is in it.
pages_end() {
    local name=$1 first last began=$EPOCHREALTIME settled
    last_pid
    last=$LAST_PID
    echo "$last" >> "$out/$name.pids"
    # The pool back to its size before the workload (a workload that grew it and left it, rxe,
    # left 4 free huge pages allocated in its name): a page still in use cannot be freed and
    # stays, as a surplus page, in HugePages_Total - HugePages_Free.
    echo "${HUGE_OVERCOMMIT:-0}" > /proc/sys/vm/nr_overcommit_hugepages 2>/dev/null
    echo "${HUGE_POOL:-0}" > /proc/sys/vm/nr_hugepages 2>/dev/null
    sync; echo 3 > /proc/sys/vm/drop_caches
    compact_bounded > "$out/$name.compaction"
    [ -s "$out/$name.compaction" ] || rm -f "$out/$name.compaction"
    settled=$EPOCHREALTIME
    cat /proc/meminfo > "$out/$name.meminfo.end"
    [ -r "$PAGE_OWNER" ] || return 0
    alive > "$out/$name.alive"
    read -r first < "$out/$name.pids"
    owner_read "$first" "$last" > "$out/$name.page_owner"
    alive >> "$out/$name.alive"  # alive at either end of the read: none of its pages is a leak
    # A page an exited process faulted in anonymously has no owner left, unless a release the
    # kernel defers (an io_uring ring's exit work, an AF_XDP pool's, an RCU callback) has not
    # run yet: such a reading is taken again after a pause, and what is gone by then was late,
    # not leaked (the first reading stays beside it for the record).
    if grep -q 'GFP_HIGHUSER_MOVABLE|[^)]*__GFP_ZERO' "$out/$name.page_owner"; then
        mv "$out/$name.page_owner" "$out/$name.page_owner.first"
        sleep "${PAGE_OWNER_SETTLE:-3}"
        # drains the per-CPU LRU batches again (their references), unless it was stuck before
        [ -e "$out/$name.compaction" ] || compact_bounded > /dev/null
        owner_read "$first" "$last" > "$out/$name.page_owner"
        alive >> "$out/$name.alive"
    fi
    # How many page tables map each kept user record's first page now (/proc/kpagecount,
    # CONFIG_PROC_PAGE_MONITOR): a page a live process maps is in use, whoever faulted it in (a
    # shared library page a short-lived process read first). One process seeking to each: od -j
    # reads its way to the offset on a /proc file (0.3 s a lookup under TCG, measured).
    awk 'BEGIN { RS = "" } /GFP_USER|GFP_HIGHUSER|GFP_TRANSHUGE|__GFP_HARDWALL/ && match($0, /\nPFN 0x[0-9a-f]+/) {
            print substr($0, RSTART + 5, RLENGTH - 5) }' "$out/$name.page_owner" | head -n "$PAGE_OWNER_LOOKUPS" |
        python3 -c '
import sys
with open("/proc/kpagecount", "rb") as f:
    for pfn in sys.stdin.read().split():
        f.seek(int(pfn, 16) * 8)
        print(pfn, int.from_bytes(f.read(8), "little"))' > "$out/$name.mapcount" 2>/dev/null
    # its cost: when it began, when sync, drop_caches and compaction were done, when it ended
    echo "pinbench: times $began $settled $EPOCHREALTIME" >> "$out/$name.page_owner"
}
