#!/bin/sh
# Fake merge_config.sh: "-n -O DIR frag..." concatenates the fragments into DIR/.config,
# leaving out any option named in $FAKE_KCONFIG_DROP (as kconfig drops unmet dependencies).
[ "$1" = "-n" ] && shift
[ "$1" = "-O" ] && { out=$2; shift 2; }
: > "$out/.config"
for f; do
    grep '^CONFIG_' "$f" | grep -v "^${FAKE_KCONFIG_DROP:-NONE}=" >> "$out/.config"
done
echo "#"; echo "# configuration written to .config"; echo "#"
