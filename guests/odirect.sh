#!/bin/bash
# O_DIRECT on a fresh ext4 in the guest: fio matrix, then checks that end on disk
# (guests/src/dio_check.c: completion dirtying, GUP-fast fallback, unaligned buffers
# inside THPs) and the DIO-vs-writeback race, once more under a memcg memory limit.
set -u
: "${FS_MB:=256}" "${FIO_SIZE_MB:=16}" "${RACE_SECONDS:=10}" "${RACE_PAGES:=64}"
: "${DIRTY_SECONDS:=10}" "${MEMCG_MB:=96}"
here=$(dirname "$0")
. "$here/lib.sh"
bin=$(build_c dio_check dio_check.c -- -lpthread) || { echo "FAIL: cannot compile dio_check"; exit 1; }
prebuild_done
mnt=/run/odirect
dev=$(make_ext4 "$FS_MB" "$mnt") || { echo "FAIL: cannot make ext4 on a loop device (CONFIG_BLK_DEV_LOOP/EXT4_FS?)"; exit 1; }
trap 'drop_ext4 "$mnt" "$dev"' EXIT
echo "ext4 on $dev at $mnt"
truncate -s 64M "$mnt/fio.buf"   # mmapshared maps without ftruncate: pre-size it
rc=0
for engine in psync libaio io_uring; do
    for mem in malloc shm "mmapshared:$mnt/fio.buf"; do
        echo "== fio direct=1 ioengine=$engine iomem=${mem%%:*}"
        fio --name=dio --directory="$mnt" --size="${FIO_SIZE_MB}M" --direct=1 \
            --ioengine="$engine" --iodepth=8 --iomem="$mem" --bs=64k --rw=randwrite \
            --verify=crc32c --do_verify=1 --verify_fatal=1 > /tmp/fio.out 2>&1  # no --runtime: it skips the verify
        fio_verified $? /tmp/fio.out "fio ioengine=$engine iomem=${mem%%:*}" || rc=1
        rm -f "$mnt"/dio.*
    done
done
for part in fallback unaligned "dirty $DIRTY_SECONDS"; do
    echo "== dio_check $part"
    # shellcheck disable=SC2086
    "$bin" ${part%% *} "$mnt" ${part#* } || rc=1
done
echo "== O_DIRECT read into MAP_SHARED ext4 buffer racing msync/fsync writeback (${RACE_SECONDS}s)"
/usr/bin/python3 "$here/odirect_race.py" "$mnt" "$RACE_SECONDS" "$RACE_PAGES" || rc=1
# The same inside a memcg with a memory.max (whether it reclaims: the memcg line below says).
# memory.max, not memory.high: high throttles the whole group to a crawl under TCG.
grp=pinbench-odirect
memcg_make "$grp" $((MEMCG_MB << 20))
case $? in
0)
    echo "== dio_check dirty and the race again in a memcg with memory.max=${MEMCG_MB}M, a buffered reader pressing on it"
    dd if=/dev/zero of="$mnt/pressure" bs=1M count=$((MEMCG_MB * 2)) status=none
    (
        memcg_join "$CGROUP/$grp" || exit 1  # outside it, the checks would run unlimited
        timeout $((RACE_SECONDS * 2)) bash -c "while :; do cat '$mnt/pressure' > /dev/null; done" &
        timeout $((RACE_SECONDS * 4)) "$bin" dirty "$mnt" "$RACE_SECONDS" &&
            timeout $((RACE_SECONDS * 4)) /usr/bin/python3 "$here/odirect_race.py" "$mnt" "$RACE_SECONDS" "$RACE_PAGES"
        r=$?
        wait
        exit $r
    ) || { echo "FAIL: the O_DIRECT checks under a memcg limit failed or timed out"; rc=1; }
    echo "memcg: $(grep -E '^(max|oom|oom_kill) ' "$CGROUP/$grp/memory.events" | tr '\n' ' ')"
    # The pressure file was written from outside, so its cache is charged there and the group
    # seldom reaches its limit (memory.events max 0 above): the checks run in a group, not under
    # reclaim. Making it reclaim (the cache dropped first) made the pages oracle's read of
    # page_owner crash 6.12 in print_page_owner in 4 of 5 runs, healthy kernel included
    # (docs/oracles.md); reclaim under a pin is pin-matrix's pageout cells' job.
    rm -f "$mnt/pressure"
    rmdir "$CGROUP/$grp" 2>/dev/null
    ;;
4) echo "(the memcg part did not run; the checks above stand)" ;;  # memcg_make said why
*) rc=1 ;;
esac
exit $rc
