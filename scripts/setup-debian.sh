#!/bin/bash
# Set up a fresh Debian 12 machine for pinbench (run as root): the kernel tree, build and boot
# tools, the guest user space of the workloads (virtme-ng shares the host root with the guest),
# and the bench itself. The packages come from scripts/requirements-debian.txt, the same list
# `bench doctor` checks before every run.
#   --print-packages   print the Debian packages it would install, and stop
#   --packages-only    install the Debian packages, and stop (no pip, no doctor: for a machine
#                      whose Python side is set up, when the list grew)
set -euo pipefail
cd "$(dirname "$0")/.."
packages=$(awk '!/^[[:space:]]*(#|$)/ { print $1 }' scripts/requirements-debian.txt | sort -u)
if [ "${1:-}" = "--print-packages" ]; then
    echo "$packages"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # one word a package
apt-get install -y -qq --no-install-recommends $packages
[ "${1:-}" = "--packages-only" ] && { echo "pinbench: Debian packages installed"; exit 0; }
# Debian's own python3 has no pip until python3-pip, and refuses pip installs (PEP 668:
# EXTERNALLY-MANAGED) unless told; the README's `python3 -m bench` must find the packages.
python3 -m pip --version > /dev/null 2>&1 || apt-get install -y -qq --no-install-recommends python3-pip
pip_flags=()
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
[ -e "$stdlib/EXTERNALLY-MANAGED" ] && pip_flags+=(--break-system-packages)
python3 -m pip install -q --disable-pip-version-check "${pip_flags[@]}" -e '.[test]'
command -v pyenv > /dev/null && pyenv rehash  # expose the new vng and bench commands
python3 -m bench doctor > /dev/null || { python3 -m bench doctor; exit 1; }
echo "pinbench: set up. Try: python3 -m bench run put-user-page"
