#!/bin/bash
# The tree's own selftests outside mm/ (tools/testing/selftests/<dir>) whose code moves, maps or
# copies user pages: execve's argument copy, memfd seals, AF_PACKET mmap rings, /proc
# readers of other processes' memory. TESTS names recipes of guests/kselftests.tests; each is
# judged like an mm selftest (lib.sh ksft_verdict: its exit code and its kselftest totals).
set -u
: "${TESTS:=}" "${TEST_TIMEOUT:=60}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
st="$BENCH_SRC/tools/testing/selftests"
mkdir -p "$BENCH_OUT/bin"
declare -A argv
names=()
while read -r name prog; do
    [ -z "$name" ] || [[ $name == \#* ]] && continue
    argv[$name]=$prog names+=("$name")
done < "$here/kselftests.tests"
[ -n "$TESTS" ] || TESTS=$(IFS=,; echo "${names[*]}")
progs=()
for t in ${TESTS//,/ }; do
    [ -n "${argv[$t]:-}" ] || { echo "FAIL: TESTS names '$t', which guests/kselftests.tests has no recipe for"; exit 1; }
    read -r prog _ <<< "${argv[$t]}"
    [[ " ${progs[*]} " == *" $prog "* ]] || progs+=("$prog")
done
# Build: each dir's Makefile CFLAGS that matter (-D_GNU_SOURCE for exec and proc, which call
# unshare(); the tree's tools/include and uapi headers), and the dir's common.c where it has one.
built=$(date +%s.%N)
build_one() {
    local prog=$1 dir=${1%%/*} extra=()
    [ -f "$st/$dir/common.c" ] && extra=("$st/$dir/common.c")
    gcc_once "$BENCH_OUT/bin/ks-${prog//\//-}" -O2 -w -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
        -I "$BENCH_BUILD/usr/include" -I "$st/../../include" -I "$st" -I "$st/$dir" \
        "$st/$prog.c" "${extra[@]}" -lpthread > "$BENCH_OUT/ks-${prog//\//-}.gcc" 2>&1
}
nc=0
for prog in "${progs[@]}"; do
    [[ $prog == *.py ]] && continue
    nc=$((nc + 1))
    while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n; done
    build_one "$prog" &
done
wait
echo "built $nc program(s) in $(awk -v b="$built" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - b }') s"
prebuild_done
# psock_tpacket and psock_fanout send on lo: up, whatever brought the guest up did or not.
ip link set lo up || { echo "FAIL: cannot bring lo up"; exit 1; }
work=/run/kselftests
rm -rf "$work"
trap 'cd /; rm -rf "$work"' EXIT
# dir_ready DIR: a fresh folder holding DIR's built programs under their own names, and what
# DIR's Makefile generates for them at build time (execveat's symlink, denatured copy, script
# and subdir, and the Makefile it opens as a plain file).
dir_ready() {
    local d=$work/$1 b
    [ -d "$d" ] && return 0
    mkdir -p "$d" || return 1
    for b in "$BENCH_OUT/bin/ks-$1-"*; do
        [ -f "$b" ] && [[ $b != *.args ]] && cp "$b" "$d/${b#"$BENCH_OUT/bin/ks-$1-"}"
    done
    if [ "$1" = exec ] && [ -f "$d/execveat" ]; then
        mkdir -p "$d/subdir" && printf '#!/bin/bash\nexit $*\n' > "$d/script" && chmod +x "$d/script" &&
            ln -sf execveat "$d/execveat.symlink" && cp "$d/execveat" "$d/execveat.denatured" &&
            chmod -x "$d/execveat.denatured" && cp "$st/exec/Makefile" "$d/Makefile" || return 1
    fi
}
rc=0 ran=() whole=()
for t in ${TESTS//,/ }; do
    read -r prog args <<< "${argv[$t]}"
    dir=${prog%%/*} name=${prog#*/}
    dir_ready "$dir" || { echo "FAIL: $t: cannot set up its folder under $work"; rc=1; continue; }
    case $prog in
        *.py) cmd=(python3 "$st/$prog") ;;
        *) [ -x "$work/$dir/$name" ] || { echo "FAIL: cannot compile $prog: $(grep -m1 -E 'error|undefined' "$BENCH_OUT/ks-${prog//\//-}.gcc")"; rc=1; continue; }
           cmd=("./$name") ;;
    esac
    echo "== $t: $prog${args:+ $args}"
    log="$BENCH_OUT/kselftests.$t.out"
    # shellcheck disable=SC2086 # the recipe's arguments are words
    ksft_run "$t" "$log" "$TEST_TIMEOUT" env -C "$work/$dir" "${cmd[@]}" $args; v=$?
    ksft_tally "$t" $v
done
[ $rc -eq 0 ] || exit 1
ksft_whole_skips "${ran[*]}" "${whole[*]}"
