#!/usr/bin/env bash
# Resident memory of the per-container monitor, in one run: hutch-monitor
# against conmon (podman, rootless, same image, same runtime) for
#   run -d busybox sleep 600                 (the default network)
#   run -d -p PORT:80 busybox sleep 600      (a published port)
#   run -d --network NET busybox sleep 600   (a user network)
# RSS from `ps -o rss` of the monitor (hutch: State.ConmonPid; podman: its
# conmon), median of N containers per row (default 5), all running at once.
# Usage: bench/monitor.sh [N]   (as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
if [ "$(id -u)" -eq 0 ]; then
  cargo build --release --locked -q
  # hutch runs its monitor from beside itself.
  install -d -m 0755 /tmp/hutch-bench-mon-bin
  install -m 0755 "${CARGO_TARGET_DIR:-target}/release/hutch" "${CARGO_TARGET_DIR:-target}/release/hutch-monitor" /tmp/hutch-bench-mon-bin/
  exec runuser -u hutch-test -- env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH=/tmp/hutch-bench-mon-bin/hutch bash "$PWD/bench/monitor.sh" "$n"
fi
hutch=${HUTCH:-$PWD/target/release/hutch}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)}
tmp=$(mktemp -d /tmp/hutch-bench-mon.XXXXXX)
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/proc" "$tmp/rootfs/dev" "$tmp/rootfs/sys" "$tmp/rootfs/tmp" "$tmp/rootfs/run" "$tmp/rootfs/var/tmp"
cp /bin/busybox "$tmp/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$tmp/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/rootfs/etc/passwd"
tar -C "$tmp/rootfs" -cf "$tmp/bb.tar" .
runtime=${RUNTIME:-crun}   # on a hybrid host crun needs hugetlb as a v1 hierarchy (tests/setup-host.sh)
H="$hutch --root $tmp/storage"
$H import -q "$tmp/bb.tar" bench/busybox >/dev/null
$H network create benchnet >/dev/null
P=""
if command -v podman >/dev/null; then
  P="podman --root $tmp/p --runroot $tmp/pr --runtime $runtime"
  $P import -q "$tmp/bb.tar" bench/busybox >/dev/null
  $P network create benchnet >/dev/null 2>&1 || true
fi
port=18080
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else print a[int((NR+1)/2)]}'; }
# measure TOOL FLAGS...: the median RSS (kB) of N monitors of this row.
measure() {
  local tool=$1; shift
  local rss=() ids=() id pid i
  for i in $(seq "$n"); do
    local flags=("$@")
    [ "${flags[0]:-}" = "-p" ] && { flags[1]="$port:80"; port=$((port + 1)); }
    id=$($tool run -d "${flags[@]}" bench/busybox sleep 600 2>>"$tmp/errors") || { echo "-"; return; }
    ids+=("$id")
  done
  for id in "${ids[@]}"; do
    pid=$($tool inspect --format '{{.State.ConmonPid}}' "$id")
    rss+=("$(ps -o rss= -p "$pid" | tr -d ' ')")
  done
  $tool rm -f -t 0 "${ids[@]}" >/dev/null 2>&1 || $tool rm -f "${ids[@]}" >/dev/null 2>&1 || true
  printf '%s\n' "${rss[@]}" | median
}
printf '%-28s%16s%12s%10s\n' "run -d busybox sleep 600" "hutch-monitor kB" "conmon kB" "ratio"
for row in "plain|" "-p PORT:80|-p X" "--network (user network)|--network benchnet"; do
  name=${row%%|*}; flags=${row#*|}
  # shellcheck disable=SC2086
  h=$(measure "$H" $flags)
  c="-"
  # shellcheck disable=SC2086
  [ -n "$P" ] && c=$(measure "$P" $flags)
  ratio=$(awk -v h="$h" -v c="$c" 'BEGIN { if (h+0 > 0 && c+0 > 0) printf "%.2f", h / c; else print "-" }')
  printf '%-28s%16s%12s%10s\n' "$name" "$h" "$c" "$ratio"
done
# podman prints "failed to connect to syslog" on this host: not a failure.
grep -v syslog "$tmp/errors" > "$tmp/errors.real" || true
[ -s "$tmp/errors.real" ] && { echo "errors:"; sort -u "$tmp/errors.real" | head -5; }
$H rm -a -f >/dev/null 2>&1 || true
$H network rm benchnet >/dev/null 2>&1 || true
[ -n "$P" ] && { $P rm -a -f >/dev/null 2>&1 || true; $P network rm benchnet >/dev/null 2>&1 || true; }
"$hutch" --root "$tmp/storage" unshare rm -rf "$tmp" 2>/dev/null || true
[ -n "$P" ] && podman --root "$tmp/p" --runroot "$tmp/pr" unshare rm -rf "$tmp/p" 2>/dev/null || true
rm -rf "$tmp" 2>/dev/null || true
