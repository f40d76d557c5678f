#!/usr/bin/env bash
# The cost of a 1 s health check, in one run, hutch beside podman:
#   hutch: the monitor's resident memory (kB) and the CPU time per hour of
#     its timer and the `hutch healthcheck run` processes it starts (the
#     monitor's own and its reaped children's CPU, from /proc/PID/stat);
#   podman: conmon's memory, and the CPU per hour of `podman healthcheck
#     run` at the same interval, run by a shell loop (what its systemd timer
#     runs; the timer's own cost is not counted, and there is no systemd
#     on the CI host to run it).
# Usage: bench/health.sh [seconds]   (as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if [ "$(id -u)" -eq 0 ]; then
  if [ -z "${HUTCH:-}" ]; then
    cargo build --release --locked -q
    install -d -m 0755 /tmp/hutch-bench-bin
    install -m 0755 "${CARGO_TARGET_DIR:-target}/release/hutch" "${CARGO_TARGET_DIR:-target}/release/hutch-monitor" /tmp/hutch-bench-bin/
    HUTCH=/tmp/hutch-bench-bin/hutch
  fi
  exec runuser -u hutch-test -- env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH="$HUTCH" bash "$PWD/bench/health.sh" "$secs"
fi
hutch=${HUTCH:-$PWD/target/release/hutch}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)}
tmp=$(mktemp -d /tmp/hutch-bench-health.XXXXXX)
H="$hutch --root $tmp/h"
P=""
cleanup() {
  $H rm -a -f -t 0 >/dev/null 2>&1 || true
  [ -n "$P" ] && $P rm -a -f -t 0 >/dev/null 2>&1
  # The stores hold files of the subordinate ids: removed from inside.
  [ -n "$P" ] && podman unshare rm -rf "$tmp/p" "$tmp/pr" 2>/dev/null
  "$hutch" unshare rm -rf "$tmp" 2>/dev/null || rm -rf "$tmp" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$tmp/root/bin"
cp /bin/busybox "$tmp/root/bin/"
for a in sh true sleep; do ln -s busybox "$tmp/root/bin/$a"; done
tar -C "$tmp/root" -cf "$tmp/bb.tar" .
$H import -q "$tmp/bb.tar" bench/busybox >/dev/null
tick=$(getconf CLK_TCK)
# cpu PID: utime+stime+cutime+cstime of PID in seconds.
cpu() { awk -v t="$tick" '{print ($14+$15+$16+$17)/t}' "/proc/$1/stat"; }
id=$($H run -d --health-cmd true --health-interval 1s bench/busybox sleep 100000)
mon=$($H inspect --format '{{.State.ConmonPid}}' "$id")
c0=$(cpu "$mon")
sleep "$secs"
c1=$(cpu "$mon")
rss=$(ps -o rss= -p "$mon" | tr -d ' ')
checks=$($H inspect --format '{{.State.Health.FailingStreak}} {{.State.Health.Status}}' "$id")
h_cpu=$(awk -v a="$c0" -v b="$c1" -v s="$secs" 'BEGIN {printf "%.1f", (b-a)*3600/s}')
printf '%-10s%14s%22s   %s\n' tool "monitor kB" "CPU s per hour (1 s)" "status"
printf '%-10s%14s%22s   %s\n' hutch "$rss" "$h_cpu" "$checks"
if command -v podman >/dev/null; then
  P="podman --root $tmp/p --runroot $tmp/pr"
  $P import -q "$tmp/bb.tar" bench/busybox >/dev/null
  pid=$($P run -d --health-cmd true --health-interval 1s bench/busybox sleep 100000 2>/dev/null)
  conmon=$($P inspect --format '{{.State.ConmonPid}}' "$pid")
  prss=$(ps -o rss= -p "$conmon" | tr -d ' ')
  # The loop's children's CPU, as bash's `times` reports it.
  out=$(bash -c "end=\$((SECONDS + $secs)); while [ \$SECONDS -lt \$end ]; do $P healthcheck run $pid >/dev/null 2>&1; sleep 1; done; times" | tail -1)
  p_cpu=$(echo "$out" | awk -v s="$secs" '
    function sec(x) { split(x, p, "m"); sub("s", "", p[2]); return p[1]*60 + p[2] }
    {printf "%.1f", (sec($1)+sec($2))*3600/s}')
  printf '%-10s%14s%22s   %s\n' podman "$prss" "$p_cpu" "$($P inspect --format '{{.State.Health.Status}}' "$pid")"
fi
