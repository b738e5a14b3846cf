#!/bin/bash
# The kernel's gup_test over a matrix like run_vmtests.sh's: every GUP/pin command, write and
# read-only, 1/123/512 pages a call, on small pages, THP, shared memory and hugetlb. gup_test
# checks every pin (folio_maybe_dma_pinned, and for -L folio_is_longterm_pinnable: under
# movablecore= a page left in ZONE_MOVABLE WARNs); a non-zero exit or a WARN fails the run.
set -u
: "${MB:=8}" "${REPEATS:=1}" "${MATRIX:=default}"
here=$(dirname "$0")
. "$here/lib.sh"
need_gup_test || exit $?
sel="$BENCH_SRC/tools/testing/selftests"
bin="$BENCH_OUT/gup_test"
# The tree's own uapi headers (make headers_install): vm_util.c needs newer ones than the host's.
gcc_once "$bin" -O2 -Wall -I "$BENCH_BUILD/usr/include" -I "$BENCH_SRC" "$sel/mm/gup_test.c" "$sel/mm/vm_util.c" -lpthread -lrt \
    || { echo "FAIL: cannot compile gup_test"; exit 1; }
mkc=$(build_c pin_mkclean pin_mkclean.c) || { echo "FAIL: cannot compile pin_mkclean"; exit 1; }
prebuild_done
hugepages $(((MB + 1) / 2 + 1)) || { echo "FAIL: cannot reserve hugetlb pages for -H"; exit 1; }
trap 'echo 0 > /proc/sys/vm/nr_hugepages' EXIT
grep -E '^Node .*zone|^ +(spanned|present) ' /proc/zoneinfo | paste - - - | awk '{print $4, $6, $8}' | sed 's/^/zone /'
rc=0 runs=0
run() {
    runs=$((runs + 1))
    # shellcheck disable=SC2068
    out=$("$bin" -m "$MB" -r "$REPEATS" $@ 2>&1)
    r=$?
    if [ $r -ne 0 ]; then
        echo "FAIL: gup_test -m $MB -r $REPEATS $* exit $r: $(echo "$out" | grep -m1 -iE 'fail|error|bail' || echo "$out" | tail -1)"
        rc=1
    fi
}
# -u GUP_FAST -U GUP_BASIC -a PIN_FAST -b PIN_BASIC -L PIN_LONGTERM; -w write, -W read-only
# -T small pages, -t THP, -S MAP_SHARED (shmem), -H hugetlb; -n pages per call
if [ "$MATRIX" = full ]; then
    shapes=("-w -n 1" "-w -n 123" "-w -n 512" "-W -n 1" "-W -n 123" "-W -n 512")
else
    shapes=("-w -n 1" "-W -n 123" "-w -n 512")
fi
for cmd in -u -U -a -b -L; do
    for mem in -T -t "-S" "-H"; do
        for shape in "${shapes[@]}"; do
            run "$cmd" $mem $shape
        done
    done
done
run -ct -F 0x1 0 19 0x1000     # dump_page() of pinned pages
echo "gup_test: $runs runs over ${MB} MiB, $REPEATS repeat(s) each"
# Writeback of dirty ext4 MAP_SHARED pages while they are pinned read-only long-term:
# folio_mkclean() meets a pinned folio (what put-user-page's debug check must count).
mnt=/run/gup-test
dev=$(make_ext4 32 "$mnt") || { echo "FAIL: cannot make ext4 on a loop device"; exit 1; }
trap 'drop_ext4 "$mnt" "$dev"; echo 0 > /proc/sys/vm/nr_hugepages' EXIT
"$mkc" "$mnt/pinned" || rc=1
exit $rc
