# shellcheck shell=bash
# Shared helpers for guest workload scripts (sourced, not run).

# make_ext4 MB DIR [stale]: a fresh ext4 on a loop device, its image on tmpfs (/run), mounted at
# DIR; prints the loop device. The image must not sit on /tmp: that is an overlay over
# the host's 9p root, and ext4 on a loop over it fails ("Can't open blockdev"). stale: the
# image is first filled with text (MB of RAM, not a sparse file) and mkfs told not to discard,
# so the free blocks hold old bytes: a block given to a file without zeroing what nobody
# wrote shows them, where a sparse image reads zeros whatever the kernel did.
make_ext4() {
    not_in_prebuild make_ext4
    local mb=$1 dir=$2 img dev
    img=/run/pinbench-$(basename "$dir").img
    if [ "${3:-}" = stale ]; then
        head -c "${mb}M" < <(yes pinbench-old-block-bytes) > "$img" && mkfs.ext4 -q -F -E nodiscard "$img" || return 1
    else
        truncate -s "${mb}M" "$img" && mkfs.ext4 -q -F "$img" || return 1
    fi
    dev=$(losetup -f --show "$img") || return 1
    mkdir -p "$dir" && mount -t ext4 "$dev" "$dir" || { losetup -d "$dev"; return 1; }
    echo "$dev"
}

# drop_ext4 DIR DEV: undo make_ext4.
drop_ext4() {
    not_in_prebuild drop_ext4
    umount "$1" 2>/dev/null
    losetup -d "$2" 2>/dev/null
    rm -f "/run/pinbench-$(basename "$1").img"
}

# wait_listen PORT [SECONDS]: until a TCP server listens on PORT (a fixed sleep loses the race
# to a slow guest under load, and the server then waits for a client forever).
wait_listen() {
    local port=$1 left=${2:-30} began=$SECONDS
    while [ "$left" -gt 0 ]; do
        ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN && return 0
        sleep 1
        left=$((left - 1))
    done
    echo "nothing listens on port $port after $((SECONDS - began))s (limit ${2:-30}s)" >&2
    return 1
}

# client_server NAME SECONDS -- CMD...: run CMD as server in the background and, once it
# listens on $PORT, again with "localhost" appended as its client; both bounded by SECONDS.
client_server() {
    local name=$1 secs=$2 srv rc=0 began=$SECONDS crc=0 src=0
    shift 3
    timeout "$secs" "$@" > "/tmp/$name-server.log" 2>&1 &
    srv=$!
    if wait_listen "$PORT" 30; then
        # measured: exit 124 is the time limit (a slow guest), anything else the tool's own failure
        timeout "$secs" "$@" localhost || crc=$?
        [ "$crc" -eq 0 ] || { echo "FAIL: $name client: exit $crc after $((SECONDS - began))s (limit ${secs}s$( \
            [ "$crc" -eq 124 ] && echo ': timed out'))"; rc=1; }
    else
        echo "FAIL: $name server never listened within $((SECONDS - began))s (limit 30s)"; rc=1
    fi
    wait "$srv" || src=$?
    if [ "$src" -ne 0 ]; then
        echo "FAIL: $name server: exit $src after $((SECONDS - began))s (limit ${secs}s$( \
            [ "$src" -eq 124 ] && echo ': timed out'))"; tail -5 "/tmp/$name-server.log"; rc=1
    fi
    return $rc
}

# gcc_once OUT GCC_ARGS...: gcc GCC_ARGS -o OUT, unless OUT was already built with the same
# gcc and arguments in this run (OUT.args says with which). The host builds the programs of every
# workload whose script calls prebuild_done, before the boot (bench/run/prebuild.py runs the
# script with BENCH_PREBUILD=1, which stops it there): the guest is the host's own user space,
# and gcc under TCG is ~10 times slower (100-170 s of the default set's guest time). gcc runs
# without the environment variables that would change its output unseen (CPATH and the like),
# and the key names the gcc found on PATH; a build that fails leaves no OUT at all.
gcc_once() {
    local out=$1 args
    shift
    args="$(readlink -f "$(command -v gcc)") $(printf '%q ' "$@")"  # the guest's PATH finds /bin/gcc
    [ -f "$out" ] && [ "$(cat "$out.args" 2>/dev/null)" = "$args" ] && return 0
    rm -f "$out" "$out.args"
    env -u CPATH -u C_INCLUDE_PATH -u LIBRARY_PATH -u GCC_EXEC_PREFIX -u COMPILER_PATH gcc "$@" -o "$out" \
        || { rm -f "$out"; return 1; }
    printf '%s' "$args" > "$out.args"
}

# not_in_prebuild WHAT: the host's prebuild (BENCH_PREBUILD=1) never gets past a script's builds;
# the helpers that change the machine call this first, so a script that would reach one on the
# host stops there (exit 3: the bench's own trouble, never the series').
not_in_prebuild() {
    [ -z "${BENCH_PREBUILD:-}" ] && return 0
    echo "prebuild: $1 refused on the host (a script reached it before prebuild_done)" >&2
    exit 3
}

# prebuild_done: the end of a script's builds; with BENCH_PREBUILD=1 (the host's prebuild) the
# script ends here, before anything that touches the machine it runs on.
prebuild_done() {
    [ -z "${BENCH_PREBUILD:-}" ] || exit 0
}

# build_c NAME SRC... [-- LIBS...]: compile guests/src programs against the tree's uapi
# headers into $BENCH_OUT/bin/NAME; prints the binary's path. $BUILD_C_OPT: the optimisation
# level (-O2; a large program may take -O1: gcc itself is slow under TCG).
build_c() {
    local name=$1 bin="$BENCH_OUT/bin/$1" here libs=()
    shift
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    local srcs=()
    while [ $# -gt 0 ]; do
        if [ "$1" = "--" ]; then shift; libs=("$@"); break; fi
        srcs+=("$here/src/$1"); shift
    done
    mkdir -p "$BENCH_OUT/bin"
    gcc_once "$bin" "${BUILD_C_OPT:--O2}" -Wall -I "$BENCH_BUILD/usr/include" -I "$BENCH_SRC" "${srcs[@]}" "${libs[@]}" >&2 || return 1
    echo "$bin"
}

# hugepages N: make sure at least N free 2 MiB hugetlb pages exist (0 when it cannot), and
# allow as many surplus pages: under movablecore= the pool sits in ZONE_MOVABLE, and a
# long-term pin must then migrate (or unshare into) a fresh page from outside the pool.
hugepages() {
    not_in_prebuild hugepages
    local want=$1 have
    have=$(cat /proc/sys/vm/nr_hugepages)
    echo "$want" > /proc/sys/vm/nr_overcommit_hugepages
    echo $((have + want)) > /proc/sys/vm/nr_hugepages
    [ "$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)" -ge "$want" ]
}

# Where the kernel's file systems are (the unit tests point these at fakes).
DEBUGFS=/sys/kernel/debug
CGROUP=/sys/fs/cgroup

# kconfig NAME: CONFIG_NAME's value in the tested kernel's .config ($BENCH_BUILD is shared with
# the guest): y, m, a string, or n when it is not set; "" when there is no .config to read.
kconfig() {
    local cfg="${BENCH_BUILD:-/nonexistent}/.config"
    [ -r "$cfg" ] || return 0
    awk -F= -v k="CONFIG_$1" '$1 == k { v = substr($0, length(k) + 2) } END { print (v == "" ? "n" : v) }' "$cfg"
}

# need_gup_test: mount debugfs; 0 when $DEBUGFS/gup_test is there. Else 4 with a SKIP line when
# the kernel was built without CONFIG_GUP_TEST, and 1 with a FAIL line when it was built with it:
# the config stage verified the option, so the kernel under test broke gup_test (its init
# failed), and a skip would let the series silence every check that needs it.
# Callers: need_gup_test || exit $?
need_gup_test() {
    [ -z "${BENCH_PREBUILD:-}" ] || return 0  # the host's prebuild: not the tested kernel, touch nothing
    mountpoint -q "$DEBUGFS" || mount -t debugfs none "$DEBUGFS" 2>/dev/null
    [ -e "$DEBUGFS/gup_test" ] && return 0
    local gup debug
    gup=$(kconfig GUP_TEST) debug=$(kconfig DEBUG_FS)
    if [ -z "$gup" ]; then
        echo "FAIL: $DEBUGFS/gup_test missing, and no ${BENCH_BUILD:-\$BENCH_BUILD}/.config to tell whether CONFIG_GUP_TEST is set"
        return 1
    fi
    if [ "$gup" = y ] && [ "$debug" = y ]; then
        echo "FAIL: kernel built with CONFIG_GUP_TEST=y has no $DEBUGFS/gup_test (gup_test's init failed, or debugfs did not mount)"
        return 1
    fi
    echo "SKIP: $DEBUGFS/gup_test missing: the kernel was built without it (CONFIG_GUP_TEST=$gup, CONFIG_DEBUG_FS=$debug)"
    return 4
}

# memcg_make NAME BYTES: the cgroup v2 group $CGROUP/NAME with memory.max BYTES, every write
# checked (one that fails silently would let the checks meant for a memory limit run without
# one, and pass). 0: made; 4 with a SKIP line: the kernel was built without CONFIG_MEMCG; 1 with
# a FAIL line: anything else (with CONFIG_MEMCG=y, a missing controller is the kernel's fault).
memcg_make() {
    not_in_prebuild memcg_make
    local dir="$CGROUP/$1" bytes=$2 memcg got
    mountpoint -q "$CGROUP" || mount -t cgroup2 none "$CGROUP" 2>/dev/null
    if ! grep -qw memory "$CGROUP/cgroup.controllers" 2>/dev/null; then
        memcg=$(kconfig MEMCG)
        case $memcg in
            y) echo "FAIL: kernel built with CONFIG_MEMCG=y has no cgroup v2 memory controller in $CGROUP" ;;
            "") echo "FAIL: no cgroup v2 memory controller in $CGROUP, and no ${BENCH_BUILD:-\$BENCH_BUILD}/.config to tell whether CONFIG_MEMCG is set" ;;
            *) echo "SKIP: no memory controller: the kernel was built without CONFIG_MEMCG"; return 4 ;;
        esac
        return 1
    fi
    echo "+memory" > "$CGROUP/cgroup.subtree_control" || { echo "FAIL: cannot enable the memory controller in $CGROUP/cgroup.subtree_control"; return 1; }
    mkdir -p "$dir" || { echo "FAIL: cannot make the cgroup $dir"; return 1; }
    echo "$bytes" > "$dir/memory.max" || { echo "FAIL: cannot set $dir/memory.max to $bytes"; return 1; }
    got=$(cat "$dir/memory.max" 2>/dev/null)
    [ "$got" = "$bytes" ] || { echo "FAIL: $dir/memory.max reads '$got' after writing $bytes"; return 1; }
}

# memcg_join DIR: move this shell ($BASHPID: a subshell moves alone) into the cgroup DIR.
memcg_join() {
    echo "$BASHPID" > "$1/cgroup.procs" || { echo "FAIL: cannot move process $BASHPID into $1"; return 1; }
}

# ksft_verdict NAME RC LOG: judge a kselftest program's run from its exit code and its output;
# prints its "# Totals:" line(s) and, on failure, a FAIL line. 0: it ran and passed; 1: it
# failed, by exit code or by its totals (fail or error > 0 even with exit 0); 4: it checked
# nothing (exit 4, or every case it counted skipped).
# fio_verified RC OUT LABEL: fio's exit code and output -> 0 when it wrote and then verified
# every byte. A job that stops early (a --runtime, a signal) skips its verify phase and still
# exits 0, so the READ line of the verify phase is required too.
fio_verified() {
    grep -E '^ +(READ|WRITE):' "$2"
    if [ "$1" -ne 0 ]; then
        echo "FAIL: $3: fio exit $1"; tail -20 "$2"; return 1
    fi
    if ! grep -qE '^ +READ:' "$2"; then
        echo "FAIL: $3: fio wrote but never read back to verify (no READ line)"; tail -20 "$2"; return 1
    fi
}

# kselftest SKIP reasons that mean the operation under test failed, not that the machine
# lacks something, once this script set that up (gup_test present, io_uring queue made, swap
# on): the kernel under test refused a pin or a pageout a working kernel does (6.12 cow.c and
# gup_longterm.c print them; a healthy 6.12 run skips only "Unknown filesystem" and one
# MADV_COLLAPSE case). A kernel that breaks pinning must not turn its checks into skips.
KSFT_FAILED_SKIPS=(
    'io_uring_register_buffers\(\) failed'
    'PIN_LONGTERM_TEST_START failed'
    'MADV_PAGEOUT did not work'
)

# ksft_failed_skips NAME LOG [SWAP]: 1 (and the lines) when LOG skipped a case for one of
# KSFT_FAILED_SKIPS; the MADV_PAGEOUT one only when SWAP is "on".
ksft_failed_skips() {
    local t=$1 log=$2 swap=${3:-off} pat lines found=0
    for pat in "${KSFT_FAILED_SKIPS[@]}"; do
        [ "$swap" != on ] && [[ $pat == MADV_PAGEOUT* ]] && continue
        lines=$(grep -E "^ok [0-9]+ # SKIP $pat" "$log") || continue
        echo "FAIL: $t: $(printf '%s\n' "$lines" | wc -l) case(s) skipped because the operation under test failed: $(printf '%s\n' "$lines" | head -1)"
        found=1
    done
    return $found
}

# ksft_run NAME LOG LIMIT CMD...: one selftest, its output into LOG, stopped after LIMIT seconds
# (exit 124: a program that hangs is named, and the next ones still run); says its exit and time,
# each failure with the [RUN] line that names its case, and returns ksft_verdict's judgement.
# thp_alloc_failures: huge page allocations the kernel could not satisfy so far (a collapse's,
# and a fault's that fell back to small pages)
thp_alloc_failures() {
    awk '$1 == "thp_collapse_alloc_failed" || $1 == "thp_fault_fallback" { n += $2 } END { print n + 0 }' /proc/vmstat
}

ksft_run() {
    local t=$1 log=$2 limit=$3 began r
    shift 3
    began=$(date +%s.%N)
    timeout -k 10 "$limit" "$@" > "$log" 2>&1
    r=$?
    [ $r -eq 124 ] && echo "FAIL: $t did not finish within TEST_TIMEOUT=$limit s"
    echo "$t: exit $r after $(awk -v b="$began" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - b }') s"
    awk '/^# \[RUN\]/ { run = $0 } /^not ok/ { print run; print }' "$log"
    grep -E '^# (\[INFO\] detected|Planned tests)|^Bail' "$log"
    ksft_verdict "$t" "$r" "$log"
}

# ksft_tally NAME VERDICT: NAME into the caller's ran (0), whole (4: skipped as a whole), or ran
# with the caller's rc set to 1 (a failure), for ksft_whole_skips at the end.
ksft_tally() {
    case $2 in
        0) ran+=("$1") ;;
        4) whole+=("$1") ;;
        *) ran+=("$1"); rc=1 ;;
    esac
}

# ksft_whole_skips RAN WHOLE [WHY]: after a list of selftests, WHOLE (names, space-separated)
# skipped as a whole: a selftest that checked nothing never counts as a pass, so the workload
# skips (4) even when RAN (the names that ran and passed) is not empty; WHY follows WHOLE in the
# line. 0 when nothing skipped as a whole.
ksft_whole_skips() {
    [ -z "$2" ] && return 0
    if [ -z "$1" ]; then
        echo "SKIP: every selftest skipped as a whole ($2): nothing was checked"
    else
        echo "SKIP: $2 skipped as a whole${3:-}; $1 ran and passed"
    fi
    return 4
}

ksft_verdict() {
    local t=$1 r=$2 log=$3 totals pass fail xfail xpass skip error
    totals=$(grep -E '^# Totals:' "$log")
    # uffd-unit-tests counts with kselftest but reports its own line instead of "# Totals:":
    # "Userfaults unit tests: pass=28, skip=38, fail=0 (total=66)" -> the same fields.
    [ -z "$totals" ] && totals=$(sed -nE 's/^Userfaults unit tests: pass=([0-9]+), skip=([0-9]+), fail=([0-9]+) .*/# Totals: pass:\1 fail:\3 xfail:0 xpass:0 skip:\2 error:0/p' "$log")
    [ -n "$totals" ] && printf '%s\n' "$totals" | sed "s/^# Totals:/$t totals:/"
    read -r pass fail xfail xpass skip error < <(printf '%s\n' "$totals" | awk '
        { for (i = 3; i <= NF; i++) { split($i, kv, ":"); n[kv[1]] += kv[2] } }
        END { print n["pass"] + 0, n["fail"] + 0, n["xfail"] + 0, n["xpass"] + 0, n["skip"] + 0, n["error"] + 0 }')
    local first
    first=$(awk '/^# \[RUN\]/ { run = $0 } /^not ok/ { print $0 (run == "" ? "" : " (" substr(run, 9) ")"); exit }' "$log")
    if [ "$r" -eq 4 ]; then
        echo "$t: skipped as a whole (exit 4): $(grep -v '^\s*$' "$log" | tail -1)"
        return 4
    fi
    if [ "$r" -ne 0 ]; then
        echo "FAIL: $t exit $r: ${first:-$(grep -v '^\s*$' "$log" | tail -1)}"
        return 1
    fi
    if [ "$fail" -gt 0 ] || [ "$error" -gt 0 ]; then
        echo "FAIL: $t exit 0 but its totals count fail:$fail error:$error: $first"
        return 1
    fi
    if [ -z "$totals" ]; then
        echo "$t: exit 0, no '# Totals:' line (not a kselftest program?): judged by its exit code"
        return 0
    fi
    if [ $((pass + xfail + xpass)) -eq 0 ]; then
        echo "$t: skipped as a whole: no case passed (pass:0 xfail:0 xpass:0 skip:$skip)"
        return 4
    fi
    return 0
}

# swap_on MB / swap_off: swap on a zram device of MB megabytes, so MADV_PAGEOUT really swaps
# (cow's swapped-out cases skip without it: "MADV_PAGEOUT did not work, is swap enabled?").
# 0: on; 4 with a SKIP line: the kernel has no CONFIG_SWAP or CONFIG_ZRAM; 1 with a FAIL line:
# the kernel has both and the device cannot be set up.
swap_on() {
    not_in_prebuild swap_on
    local mb=$1 z=/sys/block/zram0
    if [ ! -e $z ]; then
        if [ "$(kconfig ZRAM)" = y ] && [ "$(kconfig SWAP)" = y ]; then
            echo "FAIL: CONFIG_ZRAM=y but no $z"; return 1
        fi
        echo "SKIP: no swap device: the kernel was built without CONFIG_ZRAM or CONFIG_SWAP"; return 4
    fi
    echo "${mb}M" > $z/disksize && mkswap -q /dev/zram0 > /dev/null && swapon /dev/zram0 \
        || { echo "FAIL: cannot swap on /dev/zram0 (${mb} MB)"; return 1; }
}
swap_off() {
    swapoff /dev/zram0 2>/dev/null
    echo 1 > /sys/block/zram0/reset 2>/dev/null
    return 0
}

# movable_hold / movable_release: occupy ZONE_MOVABLE (guests/src/fill_movable.c) while the
# checks in between run on pages from the other zones (see that file for why).
movable_hold() {
    not_in_prebuild movable_hold
    local bin
    bin=$(build_c fill_movable fill_movable.c) || return 1
    "$bin" > "$BENCH_OUT/fill_movable.out" 2>&1 &
    MOVABLE_HOLDER=$!
    local began=$SECONDS
    for _ in $(seq 60); do
        grep -q '^filled' "$BENCH_OUT/fill_movable.out" 2>/dev/null && { cat "$BENCH_OUT/fill_movable.out"; return 0; }
        sleep 0.5
    done
    echo "fill_movable did not report within $((SECONDS - began))s (60 looks 0.5s apart)"; return 1
}
movable_release() {
    [ -n "${MOVABLE_HOLDER:-}" ] && kill "$MOVABLE_HOLDER" 2>/dev/null && wait "$MOVABLE_HOLDER" 2>/dev/null
    MOVABLE_HOLDER=
}
