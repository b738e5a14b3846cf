# Shared helpers for guest workload scripts (sourced, not run).

# make_ext4 MB DIR: a fresh ext4 on a loop device, its image on tmpfs (/run), mounted at
# DIR; prints the loop device. The image must not sit on /tmp: that is an overlay over
# the host's 9p root, and ext4 on a loop over it fails ("Can't open blockdev").
make_ext4() {
    local mb=$1 dir=$2 img dev
    img=/run/pinbench-$(basename "$dir").img
    truncate -s "${mb}M" "$img" && mkfs.ext4 -q -F "$img" || return 1
    dev=$(losetup -f --show "$img") || return 1
    mkdir -p "$dir" && mount -t ext4 "$dev" "$dir" || { losetup -d "$dev"; return 1; }
    echo "$dev"
}

# drop_ext4 DIR DEV: undo make_ext4.
drop_ext4() {
    umount "$1" 2>/dev/null
    losetup -d "$2" 2>/dev/null
    rm -f "/run/pinbench-$(basename "$1").img"
}

# wait_listen PORT [SECONDS]: until a TCP server listens on PORT (a fixed sleep loses the race
# to a slow guest under load, and the server then waits for a client forever).
wait_listen() {
    local port=$1 left=${2:-30}
    while [ "$left" -gt 0 ]; do
        ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN && return 0
        sleep 1
        left=$((left - 1))
    done
    echo "nothing listens on port $port" >&2
    return 1
}

# client_server NAME SECONDS -- CMD...: run CMD as server in the background and, once it
# listens on $PORT, again with "localhost" appended as its client; both bounded by SECONDS.
client_server() {
    local name=$1 secs=$2 srv rc=0
    shift 3
    timeout "$secs" "$@" > "/tmp/$name-server.log" 2>&1 &
    srv=$!
    if wait_listen "$PORT" 30; then
        timeout "$secs" "$@" localhost || { echo "FAIL: $name client"; rc=1; }
    else
        echo "FAIL: $name server never listened"; rc=1
    fi
    if ! wait "$srv"; then
        echo "FAIL: $name server"; tail -5 "/tmp/$name-server.log"; rc=1
    fi
    return $rc
}

# build_c NAME SRC... [-- LIBS...]: compile guests/src programs against the tree's uapi
# headers into $BENCH_OUT/bin/NAME; prints the binary's path.
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
    gcc -O2 -Wall -I "$BENCH_BUILD/usr/include" -I "$BENCH_SRC" -o "$bin" "${srcs[@]}" "${libs[@]}" >&2 || return 1
    echo "$bin"
}

# hugepages N: make sure at least N free 2 MiB hugetlb pages exist (0 when it cannot), and
# allow as many surplus pages: under movablecore= the pool sits in ZONE_MOVABLE, and a
# long-term pin must then migrate (or unshare into) a fresh page from outside the pool.
hugepages() {
    local want=$1 have
    have=$(cat /proc/sys/vm/nr_hugepages)
    echo "$want" > /proc/sys/vm/nr_overcommit_hugepages
    echo $((have + want)) > /proc/sys/vm/nr_hugepages
    [ "$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)" -ge "$want" ]
}

# need_gup_test: mount debugfs; false (with the SKIP line) when CONFIG_GUP_TEST is not set.
need_gup_test() {
    mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
    [ -e /sys/kernel/debug/gup_test ] && return 0
    echo "SKIP: /sys/kernel/debug/gup_test missing (CONFIG_GUP_TEST not set)"
    return 1
}

# movable_hold / movable_release: occupy ZONE_MOVABLE (guests/src/fill_movable.c) while the
# checks in between run on pages from the other zones (see that file for why).
movable_hold() {
    local bin
    bin=$(build_c fill_movable fill_movable.c) || return 1
    "$bin" > "$BENCH_OUT/fill_movable.out" 2>&1 &
    MOVABLE_HOLDER=$!
    for _ in $(seq 60); do
        grep -q '^filled' "$BENCH_OUT/fill_movable.out" 2>/dev/null && { cat "$BENCH_OUT/fill_movable.out"; return 0; }
        sleep 0.5
    done
    echo "fill_movable did not report"; return 1
}
movable_release() {
    [ -n "${MOVABLE_HOLDER:-}" ] && kill "$MOVABLE_HOLDER" 2>/dev/null && wait "$MOVABLE_HOLDER" 2>/dev/null
    MOVABLE_HOLDER=
}
