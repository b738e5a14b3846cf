#!/bin/bash
# Bring up rxe0, run RC traffic on it, then the memory-registration matrix, then RDMA
# traffic through MRs over each kind of memory (rxe_traffic.py).
set -u
: "${ITERS:=200}" "${SIZE_KB:=256}" "${HUGEPAGES:=4}"
here=$(dirname "$0")
. "$here/lib.sh"
build_c fill_movable fill_movable.c > /dev/null || { echo "FAIL: cannot compile fill_movable"; exit 1; }  # movable_hold's
prebuild_done
# The first NIC with a device behind it: udev may rename eth0 (enp0s10) despite net.ifnames=0.
dev=${NETDEV:-}
if [ -z "$dev" ]; then
    for d in /sys/class/net/*; do
        [ -e "$d/device" ] && { dev=${d##*/}; break; }
    done
fi
[ -n "$dev" ] || { echo "FAIL: the guest has no NIC (vng --network)"; ls /sys/class/net; exit 1; }
ip link set lo up
ip link set "$dev" up || { echo "FAIL: cannot bring $dev up"; exit 1; }
rdma link add rxe0 type rxe netdev "$dev" || { echo "FAIL: rdma link add rxe0 (CONFIG_RDMA_RXE?)"; exit 1; }
rdma link show
# The RoCE v2 GID of eth0's IPv6 link-local address appears once DAD is done.
gid="" began=$SECONDS
for _ in $(seq 30); do
    for f in /sys/class/infiniband/rxe0/ports/1/gids/*; do
        g=$(cat "$f" 2>/dev/null)
        case $g in fe80:*) gid=${f##*/}; break 2 ;; esac
    done
    sleep 0.5
done
[ -n "$gid" ] || { echo "FAIL: rxe0 got no link-local GID within $((SECONDS - began))s (30 looks 0.5s apart)"; ls -l /sys/class/infiniband/rxe0/ports/1/gids/ | head; exit 1; }
echo "rxe0 GID[$gid] = $(cat /sys/class/infiniband/rxe0/ports/1/gids/$gid)"
ibv_devinfo -d rxe0 | grep -E 'hca_id|state|active_mtu|transport'
rc=0
export PORT=18515  # both tools' default out-of-band TCP port
echo "== ibv_rc_pingpong -d rxe0 -g $gid -n $ITERS -c (server + client in the guest)"
client_server pingpong 120 -- ibv_rc_pingpong -d rxe0 -g "$gid" -n "$ITERS" -c || rc=1
echo "== ib_write_bw -d rxe0 -x $gid (perftest)"
client_server write_bw 120 -- ib_write_bw -d rxe0 -x "$gid" -n "$ITERS" -s 65536 -F -p "$PORT" || rc=1
echo "== memory registrations"
echo "$HUGEPAGES" > /proc/sys/vm/nr_hugepages
mnt=/run/rxe-mr
dev=$(make_ext4 64 "$mnt") || { echo "FAIL: ext4 for file-backed MRs"; exit 1; }
# MRs on pages outside ZONE_MOVABLE, so GUP-fast itself must refuse what it must refuse.
movable_hold || { echo "FAIL: cannot hold ZONE_MOVABLE"; rc=1; }
/usr/bin/python3 "$here/rxe_mr.py" rxe0 "$mnt" "$SIZE_KB" || rc=1
movable_release
echo "== RDMA WRITE/READ and SEND/RECV through MRs (two RC QPs on rxe0), events while held"
/usr/bin/python3 "$here/rxe_traffic.py" rxe0 "$gid" "$mnt" "$SIZE_KB" || rc=1
drop_ext4 "$mnt" "$dev"
rdma link delete rxe0
exit $rc
