#!/bin/bash
# Set up a fresh Debian 12 machine for pinbench (run as root): the kernel tree,
# build and boot tools, guest user space for the workloads, and the bench itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# linux-source-6.12: the default tree; the next line builds it; qemu-system-x86 boots it;
# the rest run inside the guest (virtme-ng shares the host root with it).
apt-get install -y -qq --no-install-recommends \
    linux-source-6.12 \
    build-essential flex bison bc libelf-dev libssl-dev dwarves cpio rsync ccache git xz-utils kmod \
    qemu-system-x86 udev iproute2 e2fsprogs util-linux procps \
    rdma-core ibverbs-providers ibverbs-utils rdmacm-utils perftest python3-pyverbs fio liburing-dev
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
command -v pyenv > /dev/null && pyenv rehash  # expose the new vng and bench commands
echo "pinbench: set up. Try: python3 -m bench run put-user-page"
