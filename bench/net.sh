#!/usr/bin/env bash
# TCP throughput with iperf3 (Debian's), host -> container through a published
# port and container -> host, for pasta and slirp4netns, hutch beside podman
# (slirp4netns only: podman 4.3 has no pasta); then the added cost of
# networking on `run --rm true` against --network none (medians, round robin).
# The container runs the host's iperf3 from read-only binds of /usr/lib and
# /usr/bin over the busybox image, so nothing is downloaded. Each throughput
# is the median of `reps` iperf3 runs (one run on a busy 2-core host varies
# several-fold). The "pasta alone" column is pasta with Podman 5's own
# arguments on a bare namespace (iperf3 entered with nsenter, no runtime, no
# hutch): what Podman 5 would get from this pasta.
# Usage: bench/net.sh [seconds per iperf3 run] [runs] [reps]   (as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
runs=${2:-20}
reps=${3:-3}
if [ "$(id -u)" -eq 0 ]; then
  cargo build --release --locked -q
  # hutch runs its monitor from beside itself.
  install -d -m 0755 /tmp/hutch-bench-net-bin
  install -m 0755 "${CARGO_TARGET_DIR:-target}/release/hutch" "${CARGO_TARGET_DIR:-target}/release/hutch-monitor" /tmp/hutch-bench-net-bin/
  exec runuser -u hutch-test -- env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH=/tmp/hutch-bench-net-bin/hutch bash "$PWD/bench/net.sh" "$secs" "$runs" "$reps"
fi
hutch=${HUTCH:-$PWD/target/release/hutch}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)}
tmp=$(mktemp -d /tmp/hutch-bench-net.XXXXXX)
H="$hutch --root $tmp/storage"
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/proc" "$tmp/rootfs/dev" "$tmp/rootfs/sys" \
  "$tmp/rootfs/tmp" "$tmp/rootfs/run" "$tmp/rootfs/usr/bin" "$tmp/rootfs/usr/lib" "$tmp/rootfs/lib" "$tmp/rootfs/lib64"
cp /bin/busybox "$tmp/rootfs/bin/"
for a in sh true; do ln -s busybox "$tmp/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/rootfs/etc/passwd"
tar -C "$tmp/rootfs" -cf "$tmp/bb.tar" .
$H import -q "$tmp/bb.tar" bench/busybox >/dev/null
binds=(-v /usr/bin:/usr/bin:ro -v /usr/lib:/usr/lib:ro -v /usr/lib:/lib:ro -v /usr/lib64:/lib64:ro)
P=""
if command -v podman >/dev/null; then
  P="podman --root $tmp/p --runroot $tmp/pr --runtime runc"
  $P import -q "$tmp/bb.tar" bench/busybox >/dev/null
fi
gw=$(awk '$2 == "00000000" { printf "%d.%d.%d.%d", "0x" substr($3,7,2), "0x" substr($3,5,2), "0x" substr($3,3,2), "0x" substr($3,1,2); exit }' /proc/net/route)
port=$((20000 + RANDOM % 20000))

gbps() { python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' 2>/dev/null || echo 0; }
# median FUNCTION ARGS...: the median of `reps` calls.
median() { for _ in $(seq "$reps"); do "$@"; done | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# host -> container: iperf3 -s in the container behind -p; the client here.
inbound() { # tool network
  local tool=$1 net=$2 name out
  name=in-$RANDOM
  $tool run -d --name "$name" --network "$net" -p "127.0.0.1:$port:5201" "${binds[@]}" bench/busybox \
    /usr/bin/iperf3 -s -1 >/dev/null
  out=""
  for _ in $(seq 50); do out=$(iperf3 -J -c 127.0.0.1 -p "$port" -t "$secs" 2>/dev/null) && break; sleep 0.1; done
  $tool rm -f "$name" >/dev/null 2>&1 || true
  echo "$out" | gbps
}
# container -> host: iperf3 -s on the host; the container reaches it through
# the helper's address for the host.
outbound() { # tool network host-address
  local tool=$1 net=$2 addr=$3
  iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
  local srv=$!
  local out=""
  for _ in $(seq 20); do
    out=$($tool run --rm --network "$net" "${binds[@]}" bench/busybox \
      /usr/bin/iperf3 -J -c "$addr" -p "$port" -t "$secs" 2>/dev/null) && break
    sleep 0.2
  done
  kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true
  echo "$out" | gbps
}
# pasta alone, as Podman 5 starts it (libnetwork/pasta: --config-net, the
# published ports, -t/-u/-T/-U none for the rest, --dns-forward, --quiet,
# --netns; it daemonises), on a namespace made in hutch's user namespace.
# `dir` is where iperf3 runs: in (server in the namespace) or out.
alone() { # direction
  $H unshare bash -c '
    set -e; ns=$1/alone-ns; dir=$2; port=$3; secs=$4; gw=$5
    touch "$ns"; unshare --net="$ns" ip link set lo up
    if [ "$dir" = in ]; then fwd=(-t "127.0.0.1/$port:5201"); else fwd=(-t none); fi
    pasta --config-net "${fwd[@]}" -u none -T none -U none --dns-forward 169.254.1.1 --quiet       --pid "$1/alone.pid" --netns "$ns" >/dev/null 2>&1
    if [ "$dir" = in ]; then
      nsenter --net="$ns" iperf3 -s -1 >/dev/null 2>&1 & srv=$!
      for _ in $(seq 50); do out=$(iperf3 -J -c 127.0.0.1 -p "$port" -t "$secs" 2>/dev/null) && break; sleep 0.1; done
    else
      iperf3 -s -1 -p "$port" >/dev/null 2>&1 & srv=$!
      for _ in $(seq 20); do out=$(nsenter --net="$ns" iperf3 -J -c "$gw" -p "$port" -t "$secs" 2>/dev/null) && break; sleep 0.2; done
    fi
    kill "$(cat "$1/alone.pid")" "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true
    umount -l "$ns"; rm -f "$ns" "$1/alone.pid"
    echo "$out"' - "$tmp" "$1" "$port" "$secs" "$gw" | gbps
}
printf '%-34s%12s%12s%14s\n' "TCP throughput (Gbit/s)" hutch podman "pasta alone"
printf '%-34s%12s%12s%14s\n' "pasta: host -> container" "$(median inbound "$H" pasta)" "-" "$(median alone in)"
printf '%-34s%12s%12s%14s\n' "pasta: container -> host" "$(median outbound "$H" pasta:--map-gw "$gw")" "-" "$(median alone out)"
pin=-; pout=-
if [ -n "$P" ]; then
  pin=$(median inbound "$P" slirp4netns:port_handler=slirp4netns)
  pout=$(median outbound "$P" slirp4netns:allow_host_loopback=true 10.0.2.2)
fi
printf '%-34s%12s%12s%14s\n' "slirp4netns: host -> container" "$(median inbound "$H" slirp4netns:port_handler=slirp4netns)" "$pin" "-"
printf '%-34s%12s%12s%14s\n' "slirp4netns: container -> host" "$(median outbound "$H" slirp4netns:allow_host_loopback=true 10.0.2.2)" "$pout" "-"

# Round robin (none, pasta, slirp4netns, none, ...) rather than hyperfine's
# one command after another: the host's load drifts over a run, and the
# differences sought are smaller than that drift.
python3 - "$runs" $H <<'PY'
import statistics, subprocess, sys, time
runs, hutch = int(sys.argv[1]), sys.argv[2:]
nets = ["none", "pasta", "slirp4netns"]
def once(net):
    t = time.perf_counter()
    subprocess.run(hutch + ["run", "--rm", "--network", net, "bench/busybox", "true"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t
for _ in range(3):
    for n in nets:
        once(n)
times = {n: [] for n in nets}
for _ in range(runs):
    for n in nets:
        times[n].append(once(n))
base = statistics.median(times["none"])
for n in nets:
    m = statistics.median(times[n])
    print(f"run --rm --network {n:<12}{m*1e3:>8.1f} ms  (+{(m-base)*1e3:.1f} ms)")
PY
$H rm -a -f >/dev/null 2>&1 || true
$H unshare rm -rf "$tmp" 2>/dev/null || true
[ -n "$P" ] && { $P rm -a -f >/dev/null 2>&1 || true; podman unshare rm -rf "$tmp/p" 2>/dev/null || true; }
"$hutch" system migrate
