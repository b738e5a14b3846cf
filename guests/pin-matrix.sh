#!/bin/bash
# The pin x memory x event matrix and the bounded races (guests/src/pin_matrix.c): every cell
# prints "CASE <pin>/<memory>/<event> PASS|FAIL|SKIP[: why]", which the host turns into a
# JUnit case of its own (bench/run/subcases.py). Sets up what the events need: swap on zram
# (pageout), ext4 (file memory, O_DIRECT), a raw loop device (O_DIRECT through block/fops.c),
# vfat (O_DIRECT through fs/direct-io.c), hugetlb pages; KSM and fake NUMA nodes come from the
# kernel config and the command line (numa=fake=2).
set -u
: "${RACE_SECONDS:=2}" "${RACE_NOISE:=0}" "${ONLY:=}" "${EXCLUDE_VFAT:=1}" "${QUICK:=1}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
need_gup_test || exit $?
# -O1: 40 s of gcc -O2 under TCG (measured), a third less at -O1 (when the guest compiles it:
# the host's prebuild, lib.sh gcc_once, usually has)
bin=$(BUILD_C_OPT=-O1 build_c pin_matrix pin_matrix.c -- -luring -lpthread) || { echo "FAIL: cannot compile pin_matrix"; exit 1; }
# The compat/ cells' 32-bit program (guests/src/compat32.c, pin_matrix's -3): gcc -m32 needs
# gcc-multilib on the host (bench doctor names it). Without it the cells skip, saying so; a
# compile error of a toolchain that builds 32-bit programs fails like pin_matrix's own.
bin32=""
if ! bin32=$(BUILD_C_OPT=-O1 build_c compat32 compat32.c -- -m32); then
    bin32=""
    m32_probe=$(mktemp -d)
    if printf 'int main(void) { return 0; }\n' > "$m32_probe/p.c" && gcc -m32 "$m32_probe/p.c" -o "$m32_probe/p" 2>/dev/null; then
        rm -rf "$m32_probe"; echo "FAIL: cannot compile compat32 (gcc -m32 builds other programs)"; exit 1
    fi
    rm -rf "$m32_probe"
    echo "note: gcc -m32 cannot build a program (no gcc-multilib on the host): compat/* skip"
fi
prebuild_done
echo "compiled in ${SECONDS}s"
hugepages 12 || { echo "FAIL: cannot reserve 12 hugetlb pages"; exit 1; }
raw_img=/run/pinbench-pin-matrix-raw.img vfat_img=/run/pinbench-pin-matrix-vfat.img
swap_img=/run/pinbench-pin-matrix-swap.img
mnt=/run/pin-matrix vfat=/run/pin-matrix-vfat raw="" raw_dio="" vfat_dev="" swap="" memcg="" race_swap="" bdev_swap=""
cleanup() {
    cd /
    [ -n "$swap" ] && { swapoff /dev/zram0; echo 1 > /sys/block/zram0/reset; }
    [ -n "$race_swap" ] && { swapoff "$race_swap" 2>/dev/null; echo "${race_swap#/dev/zram}" > /sys/class/zram-control/hot_remove; }
    [ -n "$bdev_swap" ] && { swapoff "$bdev_swap" 2>/dev/null; losetup -d "$bdev_swap"; }
    [ -n "$vfat_dev" ] && { umount "$vfat"; losetup -d "$vfat_dev"; }
    [ -n "$raw" ] && losetup -d "$raw"
    [ -n "$raw_dio" ] && losetup -d "$raw_dio"  # before the ext4 its file is on goes
    rm -f "$raw_img" "$vfat_img" "$swap_img"
    drop_ext4 "$mnt" "$dev"
    echo 0 > /proc/sys/vm/nr_hugepages
    [ -n "$memcg" ] && memcg_drop "$memcg"
    # the ra/ and pressure/ cells' own groups (guests/src/ra_cells.h, pressure_cells.h), when they could not give back everything
    for g in "$CGROUP"/pinbench-ra.* "$CGROUP"/pinbench-pressure-*; do [ -d "$g" ] && memcg_drop "$g"; done
}
# 6.12's print_page_owner_memcg() (mm/page_owner.c) takes any page's memcg_data for an
# obj_cgroup, right only for kernel pages: reading page_owner with a user page still charged
# to a removed group crashed the guest (NULL dereference at 0x57 in print_page_owner, run
# 20261205-113020, in the pages oracle after this workload). So the group gives back what it
# still holds (clean page cache of the libraries pin_matrix faulted in) before it goes.
memcg_drop() {
    local i left=""
    sync
    for i in 1 2 3; do
        echo 1G > "$1/memory.reclaim" 2>/dev/null
        left=$(awk '$1 == "anon" || $1 == "file" { n += $2 } END { print n + 0 }' "$1/memory.stat")
        [ "$left" = 0 ] && break
    done
    [ "$left" = 0 ] || echo "memcg $1: $left bytes of anon+file still charged after memory.reclaim x$i"
    rmdir "$1" || echo "memcg $1: cannot remove it"
}
# stale: the ext4's free blocks hold old bytes (lib.sh), for holes/ext4/dio and every cell whose
# file gets new blocks
dev=$(make_ext4 64 "$mnt" stale) || { echo "FAIL: cannot make ext4 on a loop device"; exit 1; }
trap cleanup EXIT
truncate -s 8M "$raw_img" && raw=$(losetup -f --show "$raw_img") || { echo "FAIL: cannot make a raw loop device"; exit 1; }
# A loop device in direct-I/O mode over a file on the ext4 mount (tmpfs backs raw above): its
# requests reach the backing file as O_DIRECT kiocbs over the bio's own pages (loop.c
# lo_rw_aio()); the dio/blk-dio/* cells skip without it, saying why.
truncate -s 8M "$mnt/raw-dio.img" && raw_dio=$(losetup -f --show --direct-io=on "$mnt/raw-dio.img") \
    || { echo "FAIL: cannot make a loop device in direct-I/O mode"; exit 1; }
[ "$(cat "/sys/block/${raw_dio#/dev/}/loop/dio" 2>/dev/null)" = 1 ] \
    || { echo "note: $raw_dio did not take direct I/O (its backing file refuses O_DIRECT?): dio/blk-dio/* skip"; losetup -d "$raw_dio"; raw_dio=""; }
if [ "$(kconfig VFAT_FS)" = y ]; then
    # dosfstools on the host (the guest runs the host's root): bench doctor checks mkfs.vfat
    truncate -s 32M "$vfat_img" && mkfs.vfat -S 512 "$vfat_img" > /dev/null && vfat_dev=$(losetup -f --show "$vfat_img") \
        && mkdir -p "$vfat" && mount -t vfat "$vfat_dev" "$vfat" \
        || { echo "FAIL: cannot make and mount vfat (CONFIG_VFAT_FS=y; mkfs.vfat from dosfstools)"; exit 1; }
fi
# Swap on zram, so that MADV_PAGEOUT has somewhere to put anonymous and shmem pages.
if [ "$(kconfig SWAP)" = y ] && [ "$(kconfig ZRAM)" = y ]; then
    { [ -e /sys/block/zram0 ] && echo 64M > /sys/block/zram0/disksize && mkswap /dev/zram0 > /dev/null \
        && swapon /dev/zram0 && swap=zram0; } || { echo "FAIL: cannot put swap on /dev/zram0 (CONFIG_SWAP=y, CONFIG_ZRAM=y)"; exit 1; }
    # race/swapin-vs-swapin's own swap, 15 slots (guests/src/pm_swapin.h): it swaps there alone,
    # so that a swap entry freed by one fault is taken again at once. Without it the race runs
    # on zram0 and says so.
    z=$(cat /sys/class/zram-control/hot_add 2>/dev/null) && echo 64K > "/sys/block/zram$z/disksize" \
        && mkswap "/dev/zram$z" > /dev/null && race_swap=/dev/zram$z
    [ -n "$z" ] && [ -z "$race_swap" ] && echo 1 > "/sys/block/zram$z/reset" && echo "$z" > /sys/class/zram-control/hot_remove
    # The swap-bdev/ cells' swap: a loop device, whose bios complete later (zram's do not), marked
    # non-rotational so that swap gives it clusters and whole THPs (guests/src/swap_cells.h).
    # mkswap only: each cell turns it on, alone, for its length.
    truncate -s 16M "$swap_img" && bdev_swap=$(losetup -f --show "$swap_img") && mkswap "$bdev_swap" > /dev/null \
        && { echo 0 > "/sys/block/${bdev_swap#/dev/}/queue/rotational" || true; } \
        || { echo "note: cannot make swap on a loop device: swap-bdev/* skip"; [ -n "$bdev_swap" ] && losetup -d "$bdev_swap"; bdev_swap=""; }
fi
# A memory cgroup for the reclaim cells and race/dio-vs-reclaim (memory.reclaim), with no
# limit: pinned pages cannot be reclaimed, and a memory.max below them ends in the OOM killer.
memcg_make pinbench-pin-matrix max
case $? in
0) memcg=$CGROUP/pinbench-pin-matrix ;;
4) ;;  # memcg_make said why; the reclaim cells skip
*) exit 1 ;;
esac
echo "memory: $(ls -d /sys/devices/system/node/node* | wc -l) NUMA node(s), swap: ${swap:-none} (the swap-in race's: ${race_swap:-none}, on a block device: ${bdev_swap:-none}), memcg: ${memcg:-none}, vfat: ${vfat_dev:-none}, raw: $raw, raw with direct I/O: ${raw_dio:-none}"
only=$ONLY
# fs/direct-io.c (vfat) on 6.12 adds pins with folio_add_pin(), which counts no
# nr_foll_pin_acquired, and drops them with unpin_user_page(), which counts a release: the
# runner's FOLL_PIN balance would read a double unpin. The dio/vfat/* path cells measure that
# excess and declare it in $PINS_UNCOUNTED, which the runner and pin-balance add back; their
# leaks are seen by the page-reference oracle (docs/matrix.md). The matrix's dio-vfat-* cells
# declare nothing: they run in pin-matrix-vfat, not here.
args=(-d "$mnt" -E -b "$raw")
[ -n "$raw_dio" ] && args+=(-B "$raw_dio")
[ -n "$memcg" ] && args+=(-m "$memcg")
[ -n "$race_swap" ] && args+=(-s "$race_swap")
[ -n "$bdev_swap" ] && args+=(-S "$bdev_swap")
[ -n "$vfat_dev" ] && args+=(-v "$vfat")
[ "$EXCLUDE_VFAT" = 0 ] || args+=(-x dio-vfat)
[ -n "${BENCH_OUT:-}" ] && export PINS_UNCOUNTED="$BENCH_OUT/${BENCH_WORKLOAD:-pin-matrix}.pins-uncounted"
[ -n "$only" ] && args+=(-o "$only")
[ "$QUICK" = 1 ] && args+=(-q)  # the default set's cells (pin_matrix.c quick_cells); 0: every cell
[ "$RACE_SECONDS" != 0 ] && args+=(-r "$RACE_SECONDS")
[ "$RACE_NOISE" != 0 ] && args+=(-n "$RACE_NOISE")
[ -n "$bin32" ] && args+=(-3 "$bin32")
# a kernel with IA32_EMULATION that cannot exec the 32-bit program fails its cells
[ "$(kconfig IA32_EMULATION)" = y ] && export COMPAT_REQUIRED=1
# a kernel built with io_uring that refuses a ring fails the matrix: its uring cells would skip
[ "$(kconfig IO_URING)" = y ] && export URING_REQUIRED=1
# the same for the kentry cells' entries (kconfigs/pinners.config): built in, so they must work
req=""
[ "$(kconfig UDMABUF)" = y ] && req+=" udmabuf"
[ "$(kconfig CRYPTO_USER_API_HASH)" = y ] && [ "$(kconfig CRYPTO_USER_API_SKCIPHER)" = y ] && req+=" af-alg"
[ "$(kconfig SCSI_DEBUG)" = y ] && [ "$(kconfig BLK_DEV_SD)" = y ] && req+=" sg-io"
[ "$(kconfig XDP_SOCKETS)" = y ] && req+=" xdp"  # xdp_cells.h: socket(AF_XDP) must work
[ "$(kconfig SECRETMEM)" = y ] && req+=" secretmem"  # secret_cells.h: memfd_secret must work
[ "$(kconfig PACKET)" = y ] && req+=" packet"  # packet_cells.h: socket(AF_PACKET) must work
[ "$(kconfig IOMMUFD)" = y ] && [ "$(kconfig IOMMUFD_TEST)" = y ] && req+=" iommufd"
[ "$(kconfig TLS)" = y ] && req+=" ktls"  # ktls_cells.h: the TLS ULP must be there
[ "$(kconfig FUSE_FS)" = y ] && req+=" fuse"  # fuse_cells.h: /dev/fuse must be there
[ "$(kconfig TEST_HMM)" = y ] && req+=" hmm"  # hmm_cells.h: /dev/hmm_dmirror0 must be there
[ "$(kconfig VIDEO_VIVID)" = y ] && req+=" vivid"  # v4l2_cells.h: vivid's capture and output nodes must be there
[ "$(kconfig MEMORY_FAILURE)" = y ] && [ "$(kconfig HWPOISON_INJECT)" = y ] && req+=" hwpoison"  # hwpoison_cells.h: injection and unpoison must work
export KENTRY_REQUIRED=$req
# guests/runner.sh holds udev's exec queue while the workloads run (its workers' reads of the 9p
# root pin buffers: a foreign pin in a cell's window reads as the cell's own)
echo "set up in ${SECONDS}s (udev's exec queue: $([ -n "${BENCH_UDEV_HELD:-}" ] && echo held || echo "not held"))"
began=$SECONDS
"$bin" "${args[@]}"
rc=$?
echo "pin_matrix: exit $rc after $((SECONDS - began))s"
trap - EXIT
cleanup
echo "torn down at ${SECONDS}s"
exit $rc
