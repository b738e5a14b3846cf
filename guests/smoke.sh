#!/bin/bash
# Boot sanity: kernel version, memory, and whether the FOLL_PIN counters exist.
set -eu
uname -a
grep -E '^(MemTotal|HugePages_Total)' /proc/meminfo
if grep -E '^nr_foll_pin_(acquired|released) ' /proc/vmstat; then
    echo "pin counters: present"
else
    echo "pin counters: missing (kernel older than 5.7 or built without them)"
fi
echo "tainted: $(cat /proc/sys/kernel/tainted)"
