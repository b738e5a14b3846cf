#!/bin/bash
# fio O_DIRECT matrix + the DIO-vs-writeback race, on a fresh ext4 in the guest.
set -u
: "${FS_MB:=256}" "${FIO_SECONDS:=5}" "${FIO_SIZE_MB:=32}" "${RACE_SECONDS:=20}" "${RACE_PAGES:=64}"
here=$(dirname "$0")
. "$here/lib.sh"
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
            --verify=crc32c --do_verify=1 --runtime="$FIO_SECONDS" > /tmp/fio.out 2>&1
        r=$?
        grep -E '^ +(READ|WRITE):' /tmp/fio.out
        if [ $r -ne 0 ]; then
            echo "FAIL: fio exit $r"; cat /tmp/fio.out; rc=1
        fi
        rm -f "$mnt"/dio.*
    done
done
echo "== O_DIRECT read into MAP_SHARED ext4 buffer racing msync/fsync writeback (${RACE_SECONDS}s)"
/usr/bin/python3 "$here/odirect_race.py" "$mnt" "$RACE_SECONDS" "$RACE_PAGES" || rc=1
exit $rc
