#!/bin/bash
# Compare the FOLL_PIN counters now with the runner's snapshot at guest start (a settled
# reading, pins.sh: no other process's read in flight), the last look settled the same way.
set -u
: "${SETTLE:=10}"
. "$(dirname "$0")/pins.sh"
get() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
start="$BENCH_OUT/vmstat.start"
if ! grep -q '^nr_foll_pin_acquired ' /proc/vmstat; then
    # Every kernel since 5.7 has them, whatever its config: gone there means the series broke them.
    IFS=. read -r major minor _ <<< "$(uname -r)"
    if [ "$major" -gt 5 ] || { [ "$major" -eq 5 ] && [ "${minor%%[!0-9]*}" -ge 7 ]; }; then
        echo "FAIL: kernel $(uname -r) has no nr_foll_pin_* counters in /proc/vmstat (every kernel since 5.7 has)"
        exit 1
    fi
    echo "SKIP: /proc/vmstat has no nr_foll_pin_* counters (kernel $(uname -r) predates 5.7)"
    exit 4
fi
a0=$(get nr_foll_pin_acquired "$start"); r0=$(get nr_foll_pin_released "$start")
began=$SECONDS deadline=$((SECONDS + SETTLE)) looks=0 first=""
# releases the workloads declared beyond the acquisitions counted (fs/direct-io.c, pins.sh)
uncounted=$(pins_uncounted "$BENCH_OUT"/*.pins-uncounted)
now=$(mktemp)
while :; do
    # the last look (at the deadline) settled: a read in flight then is not a leak
    if [ $SECONDS -ge $deadline ]; then PIN_SETTLE=2 settled_vmstat "$now"; else vmstat > "$now"; fi
    a1=$(get nr_foll_pin_acquired "$now"); r1=$(get nr_foll_pin_released "$now")
    outstanding0=$((a0 - r0)); outstanding1=$((a1 - r1 + uncounted)) looks=$((looks + 1))
    first=${first:-$outstanding1}
    [ "$outstanding1" -eq "$outstanding0" ] && break
    [ $SECONDS -ge $deadline ] && break
    sleep 1
done
rm -f "$now"
echo "at start: acquired=$a0 released=$r0 outstanding=$outstanding0"
echo "now:      acquired=$a1 released=$r1 outstanding=$outstanding1 ($uncounted uncounted releases declared added back)"
echo "during the workloads: acquired +$((a1 - a0)) released +$((r1 - r0))"
# Workloads that take FOLL_PIN pins whenever they run: after one of them, counters that did not
# move were frozen by the series (a balance of two frozen counters proves nothing).
pinned=""
for w in gup-test mm-selftests iouring rxe odirect pin-matrix; do
    [ -f "$BENCH_OUT/$w.rc" ] && pinned="$pinned $w"
done
if [ -n "$pinned" ] && [ "$a1" -eq "$a0" ]; then
    echo "FAIL: nr_foll_pin_acquired did not move although$pinned ran, which pin pages: the counters are frozen"
    exit 1
fi
if [ "$outstanding1" -ne "$outstanding0" ]; then
    # what was measured: a count still falling at the deadline is slow teardown, not a leak
    echo "FAIL: pin imbalance: $((outstanding1 - outstanding0)) page pin(s) still held after waiting $((SECONDS - began))s" \
         "(limit ${SETTLE}s, $looks looks; outstanding $outstanding0 at start, $first at the first look, $outstanding1 at the last)" \
         "(leak, or a double unpin if negative)"
    exit 1
fi
echo "OK: pins balanced"
