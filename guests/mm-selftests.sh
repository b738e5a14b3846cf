#!/bin/bash
# The tree's own mm selftests for pinning: cow and gup_longterm (with liburing, so their
# io_uring cases run), built in the guest from $BENCH_SRC against the tree's uapi headers.
set -u
: "${TESTS:=cow,gup_longterm}" "${THP_SIZES:=pmd}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
if [ ! -e /sys/kernel/debug/gup_test ]; then
    echo "SKIP: /sys/kernel/debug/gup_test missing (CONFIG_GUP_TEST not set): the R/O pin cases cannot run"
    exit 4
fi
mm="$BENCH_SRC/tools/testing/selftests/mm"
inc="$BENCH_OUT/mm-selftests-inc"
mkdir -p "$inc" "$BENCH_OUT/bin"
echo "#define LOCAL_CONFIG_HAVE_LIBURING 1" > "$inc/local_config.h"
# THP_SIZES=pmd: cow's mTHP sizes trimmed to 64K and the PMD size (every size triples its
# runtime under TCG); all: every size the kernel offers.
cflags=(-O2 -w -I "$inc" -I "$BENCH_BUILD/usr/include" -I "$BENCH_SRC/tools/include")
objs=("$mm/thp_settings.c")
if [ "$THP_SIZES" = pmd ] && grep -q '^unsigned long thp_supported_orders' "$mm/thp_settings.c"; then
    gcc "${cflags[@]}" -Dthp_supported_orders=pinbench_real_thp_supported_orders -c \
        -o "$inc/thp_settings.o" "$mm/thp_settings.c" || { echo "FAIL: cannot compile thp_settings.c"; exit 1; }
    objs=("$inc/thp_settings.o" "$here/src/thp_sizes.c")
fi
hugepages 16 || { echo "FAIL: cannot reserve 16 hugetlb pages"; exit 1; }
# gup_longterm's file cases run on the file system of the current directory: ext4, like a user's.
mnt=/run/mm-selftests
dev=$(make_ext4 128 "$mnt") || { echo "FAIL: cannot make ext4 on a loop device"; exit 1; }
trap 'cd /; drop_ext4 "$mnt" "$dev"; echo 0 > /proc/sys/vm/nr_hugepages' EXIT
cd "$mnt" || exit 1
rc=0
for t in ${TESTS//,/ }; do
    bin="$BENCH_OUT/bin/$t"
    # shellcheck disable=SC2086
    if ! gcc "${cflags[@]}" -o "$bin" "$mm/$t.c" "$mm/vm_util.c" "${objs[@]}" -luring -lrt -lpthread -lm; then
        echo "FAIL: cannot compile $t"; rc=1; continue
    fi
    echo "== $t"
    "$bin" > "/tmp/$t.out" 2>&1
    r=$?
    grep -E '^(not ok|# (Totals|Planned|\[INFO\]))|^Bail' "/tmp/$t.out"
    grep -E '^ok ' "/tmp/$t.out" | wc -l | sed 's/^/ok lines: /'
    case $r in
        0) ;;
        4) echo "$t: skipped as a whole"; tail -3 "/tmp/$t.out" ;;
        *) echo "FAIL: $t exit $r: $(grep -m1 '^not ok' "/tmp/$t.out")"; rc=1 ;;
    esac
done
exit $rc
