#!/bin/bash
# io_uring registered buffers: pins, coalescing, ZONE_MOVABLE, fork, data; then fio --fixedbufs.
set -u
: "${FIO_SIZE_MB:=16}"
here=$(dirname "$0")
. "$here/lib.sh"
bin=$(build_c uring_bufs uring_bufs.c -- -luring) || { echo "FAIL: cannot compile uring_bufs (liburing-dev?)"; exit 1; }
prebuild_done
hugepages 12 || { echo "FAIL: cannot reserve 12 hugetlb pages"; exit 1; }
mnt=/run/iouring
dev=$(make_ext4 128 "$mnt") || { echo "FAIL: cannot make ext4 on a loop device"; exit 1; }
trap 'drop_ext4 "$mnt" "$dev"; echo 0 > /proc/sys/vm/nr_hugepages' EXIT
rc=0
echo "== registered buffers: anonymous, THP, hugetlb (coalesced)"
"$bin" "$mnt" || rc=1
for mem in malloc mmaphuge:/dev/hugepages/fio; do
    mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs none /dev/hugepages; }
    echo "== fio io_uring --fixedbufs --direct=1 iomem=${mem%%:*}"
    fio --name=fixed --directory="$mnt" --size="${FIO_SIZE_MB}M" --direct=1 --ioengine=io_uring \
        --fixedbufs --registerfiles --iodepth=16 --iomem="$mem" --bs=4k --bsrange=512-256k \
        --rw=randwrite --verify=crc32c --do_verify=1 --verify_fatal=1 > /tmp/fio.out 2>&1  # no --runtime: see fio_verified
    fio_verified $? /tmp/fio.out "fio --fixedbufs iomem=${mem%%:*}" || rc=1
    rm -f "$mnt"/fixed.* /dev/hugepages/fio 2>/dev/null
done
exit $rc
