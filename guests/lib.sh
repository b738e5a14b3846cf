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
