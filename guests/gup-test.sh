#!/bin/bash
# Run gup_test's pin/unpin commands; any non-zero exit or kernel WARN fails the run.
set -u
: "${MB:=32}" "${REPEATS:=2}"
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
if [ ! -e /sys/kernel/debug/gup_test ]; then
    echo "SKIP: /sys/kernel/debug/gup_test missing (CONFIG_GUP_TEST not set)"
    exit 4
fi
sel="$BENCH_SRC/tools/testing/selftests"
bin="$BENCH_OUT/gup_test"
# The tree's own uapi headers (make headers_install): vm_util.c needs newer ones than the host's.
gcc -O2 -Wall -I "$BENCH_BUILD/usr/include" -I "$BENCH_SRC" -o "$bin" "$sel/mm/gup_test.c" "$sel/mm/vm_util.c" -lpthread -lrt \
    || { echo "FAIL: cannot compile gup_test"; exit 1; }
rc=0
# -u GUP_FAST  -U GUP_BASIC  -a PIN_FAST  -b PIN_BASIC  -L PIN_LONGTERM; -w write, -S shared
for args in "-u" "-U" "-a" "-b" "-L" "-a -w" "-b -w -S" "-L -w" "-a -t" "-a -T" "-ct -F 0x1 0 19 0x1000"; do
    # shellcheck disable=SC2086
    echo "== gup_test -m $MB -r $REPEATS $args"
    # shellcheck disable=SC2086
    "$bin" -m "$MB" -r "$REPEATS" $args
    r=$?
    echo "== rc=$r"
    [ $r -eq 0 ] || rc=1
done
exit $rc
