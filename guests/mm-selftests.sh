#!/bin/bash
# The tree's own mm selftests (tools/testing/selftests/mm), built in the guest from $BENCH_SRC
# against the tree's uapi headers, with liburing (cow's and gup_longterm's io_uring cases),
# libnuma and libcap. TESTS names recipes of guests/mm-selftests.tests (a program and its
# arguments, as run_vmtests.sh runs it, and the hugetlb pages it needs).
set -u
: "${TESTS:=cow,gup_longterm}" "${THP_SIZES:=pmd}" "${TEST_TIMEOUT:=300}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
need_gup_test || exit $?
mm="$BENCH_SRC/tools/testing/selftests/mm"
inc="$BENCH_OUT/mm-selftests-inc"
mkdir -p "$inc" "$BENCH_OUT/bin"
echo "#define LOCAL_CONFIG_HAVE_LIBURING 1" > "$inc/local_config.h"
# The recipes (guests/mm-selftests.tests): TESTS names -> program and arguments, hugetlb pages.
declare -A argv huge
while read -r name pages prog; do
    [ -z "$name" ] || [[ $name == \#* ]] && continue
    argv[$name]=$prog huge[$name]=$pages
done < "$here/mm-selftests.tests"
need=0 progs=()
for t in ${TESTS//,/ }; do
    [ -n "${argv[$t]:-}" ] || { echo "FAIL: TESTS names '$t', which guests/mm-selftests.tests has no recipe for"; exit 1; }
    [ "${huge[$t]}" -gt $need ] && need=${huge[$t]}
    read -r prog _ <<< "${argv[$t]#thp=* }"
    [[ " ${progs[*]} " == *" $prog "* ]] || progs+=("$prog")
done
# Build. gcc is slow under TCG (~12 s for one selftest with its helpers compiled in, on 2 cores
# shared with other runs): the helpers are compiled once, then the programs $(nproc) at a time.
# THP_SIZES=pmd: cow's mTHP sizes trimmed to 64K and the PMD size (every size triples its
# runtime under TCG); all: every size the kernel offers.
# __FILE__ relative: gup_longterm makes its "local tmpfile" from it, in the current directory.
# -I $BENCH_SRC: ksm_tests includes <include/vdso/time64.h>. -DKSFT_SKIP=4: 6.12's khugepaged.c
# uses KSFT_SKIP without including kselftest.h (which defines it the same).
cflags=(-O2 -w -I "$inc" -I "$BENCH_BUILD/usr/include" -I "$BENCH_SRC/tools/include" -I "$BENCH_SRC"
        -DKSFT_SKIP=4 -fmacro-prefix-map="$mm/=")
libs=(-luring -lnuma -lcap -lrt -lpthread -lm)
built=$(date +%s.%N)
objs=("$inc/vm_util.o" "$inc/thp_settings.o") thp=() helpers=("$mm/vm_util.c" "$mm/thp_settings.c")
if [ "$THP_SIZES" = pmd ] && grep -q '^unsigned long thp_supported_orders' "$mm/thp_settings.c"; then
    thp=(-Dthp_supported_orders=pinbench_real_thp_supported_orders)
    objs+=("$inc/thp_sizes.o") helpers+=("$here/src/thp_sizes.c")
fi
[[ " ${progs[*]} " == *" uffd-"* ]] && helpers+=("$mm/uffd-common.c")
pids=()
for c in "${helpers[@]}"; do
    o="$inc/$(basename "$c" .c).o"
    if [ "$c" = "$mm/thp_settings.c" ]; then
        gcc_once "$o" "${cflags[@]}" "${thp[@]}" -c "$c" &
    else
        gcc_once "$o" "${cflags[@]}" -c "$c" &
    fi
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || { echo "FAIL: cannot compile the selftests' helpers (${helpers[*]##*/})"; exit 1; }
done
# build_one PROG: $BENCH_OUT/bin/PROG, or no file and gcc's output in $inc/PROG.gcc.
build_one() {
    local extra=()
    case $1 in uffd-*) extra=("$inc/uffd-common.o") ;; esac
    gcc_once "$BENCH_OUT/bin/$1" "${cflags[@]}" "$mm/$1.c" "${objs[@]}" "${extra[@]}" "${libs[@]}" > "$inc/$1.gcc" 2>&1
}
for prog in "${progs[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n; done
    build_one "$prog" &
done
wait
echo "built ${#progs[@]} program(s) in $(awk -v b="$built" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - b }') s"
build_c fill_movable fill_movable.c > /dev/null  # movable_hold's, below
prebuild_done
if [ $need -gt 0 ]; then
    hugepages $need || { echo "FAIL: cannot reserve $need hugetlb pages"; exit 1; }
fi
# gup_longterm's file cases run on the file system of the current directory: ext4, like a user's.
mnt=/run/mm-selftests
dev=$(make_ext4 128 "$mnt") || { echo "FAIL: cannot make ext4 on a loop device"; exit 1; }
# A recipe whose words start with thp=MODE runs with transparent_hugepage/enabled at MODE, put
# back after it (and at exit).
: "${THP_ENABLED:=/sys/kernel/mm/transparent_hugepage/enabled}"
thp_was=""
thp_back() { [ -z "$thp_was" ] || echo "$thp_was" > "$THP_ENABLED"; thp_was=""; }
trap 'cd /; thp_back; movable_release; swap_off; drop_ext4 "$mnt" "$dev"; echo 0 > /proc/sys/vm/nr_hugepages; echo 0 > /proc/sys/vm/nr_overcommit_hugepages' EXIT
# cow's swapped-out cases (base pages, THP, PTE-mapped THP) need a swap device.
swap_on 256; r=$?
[ $r -eq 1 ] && exit 1
swap=off; [ $r -eq 0 ] && swap=on
cd "$mnt" || exit 1
# GUP-fast's own long-term decisions (R/O unsharing, file mappings) are only exercised on
# pages outside ZONE_MOVABLE: hold the zone while the selftests run.
movable_hold || { echo "FAIL: cannot hold ZONE_MOVABLE"; exit 1; }
# Each selftest is judged by its exit code and its kselftest totals (ksft_verdict, lib.sh).
rc=0 ran=() whole=()
for t in ${TESTS//,/ }; do
    recipe=${argv[$t]} thp=""
    [[ $recipe == thp=* ]] && { thp=${recipe%% *}; thp=${thp#thp=}; recipe=${recipe#* }; }
    read -r prog args <<< "$recipe"
    bin="$BENCH_OUT/bin/$prog"
    if [ ! -x "$bin" ]; then
        echo "FAIL: cannot compile $prog: $(grep -m1 -E 'error|undefined' "$inc/$prog.gcc")"; rc=1; continue
    fi
    echo "== $t: $prog${args:+ $args}${thp:+ (transparent_hugepage/enabled: $thp)}"
    if [ -n "$thp" ]; then
        thp_was=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$THP_ENABLED")
        echo "$thp" > "$THP_ENABLED" || { echo "FAIL: $t: cannot set $THP_ENABLED to $thp"; thp_was=""; rc=1; continue; }
    fi
    log="$BENCH_OUT/mm-selftests.$t.out"  # the full kselftest output, kept with the results
    # A failure while the kernel could not allocate a huge page the program asked for (memory
    # fragmented, ZONE_MOVABLE held by movable_hold) is the premise missing, not a verdict:
    # khugepaged's MADV_COLLAPSE then fails "Bad return value". Such a run is tried once more
    # after compaction and judged by that try; its own lines stay, as comments, and its output
    # as $log.first. A failure that repeats, or one without failed allocations, stands.
    nofit=$(thp_alloc_failures)
    # shellcheck disable=SC2086 # the recipe's arguments are words
    ksft_run "$t" "$log" "$TEST_TIMEOUT" "$bin" $args > "$log.verdict"; v=$?
    nofit=$(( $(thp_alloc_failures) - nofit ))
    if [ $v -eq 1 ] && [ $nofit -gt 0 ]; then
        sed 's/^/# first try: /' "$log.verdict"
        mv "$log" "$log.first"
        echo "# $t: $nofit huge page allocation(s) failed during its run (thp_collapse_alloc_failed, thp_fault_fallback): once more after compact_memory"
        echo 1 > /proc/sys/vm/compact_memory
        # shellcheck disable=SC2086
        ksft_run "$t" "$log" "$TEST_TIMEOUT" "$bin" $args > "$log.verdict"; v=$?
    fi
    cat "$log.verdict"
    thp_back
    [ $v -eq 0 ] && { ksft_failed_skips "$t" "$log" "$swap" || v=1; }
    ksft_tally "$t" $v
done
[ $rc -eq 0 ] || exit 1
# A selftest that checked nothing (exit 4, or every case skipped) never counts as a pass. Here
# (gup_test there, hugetlb, ext4 and liburing set up; 6.12's cow and gup_longterm have no
# whole-skip path) that is suspicious, so the workload skips even when the others ran and
# passed: the summary shows its last line. Not 0 on part of its check; not a failure either, as
# another tree's selftest may need more than this script sets up.
ksft_whole_skips "${ran[*]}" "${whole[*]}" " although the kernel has their config"
