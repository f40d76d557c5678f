#!/usr/bin/env bash
# The REST service, in one run, hutch beside podman (when installed):
#   requests per second of GET /containers/json?all=1 with 100 containers
#     (WORKERS keep-alive clients, SECONDS_EACH seconds each), Docker's route;
#   the wall time of `docker run --rm IMAGE true` through each service,
#     beside hutch's own `run --rm` (the target: no more than the CLI + 10 ms).
# Usage: bench/api.sh [runs]   (as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
if [ "$(id -u)" -eq 0 ]; then
  cargo build --release --locked -q
  install -d -m 0755 /tmp/hutch-bench-bin
  install -m 0755 "${CARGO_TARGET_DIR:-target}/release/hutch" "${CARGO_TARGET_DIR:-target}/release/hutch-monitor" /tmp/hutch-bench-bin/
  exec runuser -u hutch-test -- env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH=/tmp/hutch-bench-bin/hutch WORKERS="${WORKERS:-2}" SECONDS_EACH="${SECONDS_EACH:-5}" \
    bash "$PWD/bench/api.sh" "$runs"
fi
hutch=${HUTCH:-$PWD/target/release/hutch}
workers=${WORKERS:-2}
secs=${SECONDS_EACH:-5}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)}
tmp=$(mktemp -d /tmp/hutch-bench-api.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$hutch" --root "$tmp/h" rm -a -f >/dev/null 2>&1 || true
  [ -n "${P:-}" ] && $P rm -a -f >/dev/null 2>&1
  rm -rf "$tmp" 2>/dev/null || true
}
trap cleanup EXIT

mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/proc" "$tmp/rootfs/dev" "$tmp/rootfs/sys" "$tmp/rootfs/tmp" "$tmp/rootfs/run" "$tmp/rootfs/var/tmp"
cp /bin/busybox "$tmp/rootfs/bin/"
for a in sh true; do ln -s busybox "$tmp/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/rootfs/etc/passwd"
tar -C "$tmp/rootfs" -cf "$tmp/bb.tar" .

H="$hutch --root $tmp/h"
$H import -q "$tmp/bb.tar" localhost/bench/busybox >/dev/null
P=""
if command -v podman >/dev/null; then
  P="podman --root $tmp/p --runroot $tmp/pr --runtime ${RUNTIME:-crun}"
  $P import -q "$tmp/bb.tar" localhost/bench/busybox >/dev/null
fi

wait_sock() { # SOCKET: up to 30 s for the service to answer
  for _ in $(seq 300); do
    curl -sf --unix-socket "$1" http://d/_ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench/api: no service on $1" >&2
  return 1
}
$H system service --time 0 "unix://$tmp/h.sock" 2> "$tmp/h.log" &
pids+=($!)
wait_sock "$tmp/h.sock"
if [ -n "$P" ]; then
  $P system service --time 0 "unix://$tmp/p.sock" 2> "$tmp/p.log" &
  pids+=($!)
  wait_sock "$tmp/p.sock"
fi

for i in $(seq 100); do
  $H create --network none localhost/bench/busybox true >/dev/null
  [ -n "$P" ] && $P create --network none localhost/bench/busybox true >/dev/null
done

rps() { # SOCKET: requests per second over $workers keep-alive connections
  python3 - "$1" "$workers" "$secs" <<'PY'
import http.client, multiprocessing, socket, sys, time
sock, workers, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sock)

def worker(q):
    c, n, end = Conn("d"), 0, time.monotonic() + secs
    while time.monotonic() < end:
        c.request("GET", "/v1.41/containers/json?all=1")
        r = c.getresponse()
        body = r.read()
        ids = body.count(b'"Id"')
        if r.status != 200 or ids != 100:
            raise SystemExit(f"unexpected answer: {r.status} with {ids} containers")
        n += 1
    q.put(n)

q = multiprocessing.Queue()
ps = [multiprocessing.Process(target=worker, args=(q,)) for _ in range(workers)]
for p in ps: p.start()
for p in ps: p.join()
if any(p.exitcode for p in ps): sys.exit(1)
print(f"{sum(q.get() for _ in ps) / secs:.0f}")
PY
}

h_rps=$(rps "$tmp/h.sock")
p_rps=""
[ -n "$P" ] && p_rps=$(rps "$tmp/p.sock")

docker_ok=""
command -v docker >/dev/null && docker_ok=1
cmds=("$H run --rm --network none localhost/bench/busybox true")
[ -n "$docker_ok" ] && cmds+=("DOCKER_HOST=unix://$tmp/h.sock docker run --rm --network none localhost/bench/busybox true")
[ -n "$docker_ok" ] && [ -n "$P" ] && cmds+=("DOCKER_HOST=unix://$tmp/p.sock docker run --rm --network none localhost/bench/busybox true")
hyperfine -S bash -N --warmup 2 --runs "$runs" --style none --export-json "$tmp/run.json" "${cmds[@]}" >/dev/null 2>&1 ||
  hyperfine -S bash --warmup 2 --runs "$runs" --style none --export-json "$tmp/run.json" "${cmds[@]}" >/dev/null

python3 - "$tmp/run.json" "$h_rps" "${p_rps:-}" "$workers" "$secs" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
h_rps, p_rps, workers, secs = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
print(f"GET /containers/json?all=1, 100 containers, {workers} keep-alive clients, {secs} s:")
print(f"  hutch {h_rps} req/s" + (f", podman {p_rps} req/s, ratio {int(h_rps) / int(p_rps):.1f}x" if p_rps else ""))
names = ["hutch run --rm (CLI)", "docker run --rm via hutch", "docker run --rm via podman"]
med = {}
for name, r in zip(names, res):
    med[name] = r["median"] * 1000
    print(f"  {name:30} median {med[name]:7.1f} ms")
if len(med) > 1:
    d = med[names[1]] - med[names[0]]
    print(f"  docker via hutch - hutch CLI: {d:+.1f} ms (target: at most +10 ms)")
if len(med) > 2:
    print(f"  docker via podman / via hutch: {med[names[2]] / med[names[1]]:.1f}x")
PY
