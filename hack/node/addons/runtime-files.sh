#!/usr/bin/env bash
# Prints SRC:DST lines (for image.sh --file) of what Debian's iptables (nft
# backend) and ipset need at run time in an image FROM scratch: the binaries
# under the names kube-router calls, every shared library they and the xtables
# extensions load, and the extensions themselves. Paths in the image are the
# machine's paths, so the loader and libxtables find them where they were built
# to look.
set -euo pipefail

xt=/usr/sbin/xtables-nft-multi
ipset=/usr/sbin/ipset
extdir=/usr/lib/x86_64-linux-gnu/xtables
for f in "$xt" "$ipset"; do
  [ -x "$f" ] || { echo "runtime-files: $f is missing: apt-get install iptables ipset" >&2; exit 1; }
done
[ -d "$extdir" ] || { echo "runtime-files: $extdir is missing: apt-get install iptables" >&2; exit 1; }

# xtables-nft-multi picks its mode from the name it is called by.
for name in iptables iptables-save iptables-restore; do
  echo "$xt:/usr/sbin/$name"
done
echo "$ipset:/usr/sbin/ipset"
for so in "$extdir"/*.so; do
  echo "$so:$so"
done
echo "/etc/protocols:/etc/protocols"

# Shared libraries: ldd's "name => path" and the loader's own absolute path,
# each copied from where it really is to the path the binaries ask for.
{ ldd "$xt"; ldd "$ipset"; for so in "$extdir"/*.so; do ldd "$so"; done; } |
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
  sort -u |
  while read -r lib; do
    echo "$(readlink -f "$lib"):$lib"
  done
