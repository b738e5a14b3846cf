#!/bin/bash
# The tree's own iommufd selftest (tools/testing/selftests/iommu/iommufd.c, kselftest harness),
# built in the guest against the tree's uapi and run on IOMMUFD_TEST's mock domain. Measured for
# the deep set (docs/matrix.md "iommufd"); in no set yet.
# 6.12.118's copy names uapi its own kernel lacks (struct iommu_hw_info's in_data_type,
# IOMMU_HW_INFO_TYPE_DEFAULT, IOMMU_HW_INFO_FLAG_INPUT_TYPE, MOCK_FLAGS_DEVICE_PASID,
# MOCK_PASID_WIDTH: later upstream selftest changes carried into the stable tree without them), so
# it does not compile as shipped. SHIM=1 defines them (in_data_type as flags: the hw_info helper
# then sends flags 0, which is what IOMMU_HW_INFO_TYPE_DEFAULT asks for); the PASID variants then
# fail at their setup (the mock device refuses the unknown flag), get_hw_info asks for an input
# type (flags the kernel refuses) and alloc_hwpt_nested for a fault queue on a nested hwpt:
# LEAVE_VARIANTS and LEAVE_TESTS (comma lists, the harness's -V and -T) leave 30 of 190 out
# by default (iommufd-selftest.yaml); FIXTURE runs one fixture only (-f).
set -u
: "${SHIM:=1}" "${LEAVE_VARIANTS:=}" "${LEAVE_TESTS:=}" "${FIXTURE:=}" "${HUGEPAGES:=80}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
if [ ! -e /dev/iommu ]; then
    [ "$(kconfig IOMMUFD_TEST)" = y ] && { echo "FAIL: no /dev/iommu, and the kernel is built with CONFIG_IOMMUFD_TEST=y"; exit 1; }
    echo "SKIP: no /dev/iommu (CONFIG_IOMMUFD_TEST=$(kconfig IOMMUFD_TEST))"; exit 4
fi
src="$BENCH_SRC/tools/testing/selftests/iommu/iommufd.c" bin="$BENCH_OUT/bin/iommufd"
mkdir -p "$BENCH_OUT/bin"
cflags=(-O2 -w -I "$BENCH_BUILD/usr/include")
shim=(-Din_data_type=flags -DIOMMU_HW_INFO_TYPE_DEFAULT=0 -DIOMMU_HW_INFO_FLAG_INPUT_TYPE=1
      "-DMOCK_FLAGS_DEVICE_PASID=(1 << 2)" -DMOCK_PASID_WIDTH=20)
began=$SECONDS
if ! gcc "${cflags[@]}" -o "$bin" "$src" 2> "$BENCH_OUT/iommufd-selftest.cc.err"; then
    echo "# iommufd.c does not compile against the tree's uapi: $(grep -c 'error:' "$BENCH_OUT/iommufd-selftest.cc.err") error(s)"
    grep 'error:' "$BENCH_OUT/iommufd-selftest.cc.err" | sed 's/^.*error: /#   /' | sort | uniq -c
    [ "$SHIM" = 1 ] || { echo "FAIL: the tree's iommufd selftest does not compile (SHIM=0)"; exit 1; }
    gcc "${cflags[@]}" "${shim[@]}" -o "$bin" "$src" || { echo "FAIL: cannot compile iommufd.c even with SHIM=1"; exit 1; }
    echo "# compiled with SHIM=1: ${shim[*]}"
fi
echo "compiled in $((SECONDS - began))s"
hugepages "$HUGEPAGES" || echo "# only $(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo) free hugetlb pages (asked $HUGEPAGES)"
args=()
for v in ${LEAVE_VARIANTS//,/ }; do args+=(-V "$v"); done
for t in ${LEAVE_TESTS//,/ }; do args+=(-T "$t"); done
[ -n "$FIXTURE" ] && args+=(-f "$FIXTURE")
echo "# harness arguments: ${args[*]}"
began=$SECONDS
"$bin" "${args[@]}"
rc=$?
echo "iommufd: exit $rc after $((SECONDS - began))s"
echo 0 > /proc/sys/vm/nr_hugepages
exit $rc
