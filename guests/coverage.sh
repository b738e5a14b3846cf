# shellcheck shell=bash
# Coverage windows (sourced by runner.sh): when the host asked (BENCH_COVERAGE=1 in guest/env),
# the gcov counters of the profiled objects are saved once before the first workload (window
# "boot": what ran while booting) and after each workload, reset before each one, into
# $BENCH_OUT/coverage/<window>/. Read with cat: "due to the way seq_file works, some tools such
# as cp or tar may not correctly copy files from sysfs" (Documentation/dev-tools/gcov.rst).
GCOV_FS=/sys/kernel/debug/gcov

cov_on() { [ "${BENCH_COVERAGE:-0}" = 1 ]; }

# cov_save WINDOW: copy every .gcda to $BENCH_OUT/coverage/WINDOW/<its path under gcov/>
cov_save() {
    cov_on || return 0
    local dest=$BENCH_OUT/coverage/$1 f
    if [ ! -d "$GCOV_FS" ]; then
        mount -t debugfs none /sys/kernel/debug 2>/dev/null
    fi
    if [ ! -d "$GCOV_FS" ]; then
        mkdir -p "$BENCH_OUT/coverage"
        echo "no $GCOV_FS in the guest (CONFIG_GCOV_KERNEL off, or no debugfs)" > "$BENCH_OUT/coverage/ERROR"
        return 0
    fi
    mkdir -p "$dest"
    (cd "$GCOV_FS" && find . -name '*.gcda') | while IFS= read -r f; do
        mkdir -p "$dest/$(dirname "$f")"
        cat "$GCOV_FS/$f" > "$dest/$f"
    done
}

cov_reset() {
    cov_on || return 0
    [ -w "$GCOV_FS/reset" ] && echo 0 > "$GCOV_FS/reset"
}
