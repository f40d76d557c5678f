#!/usr/bin/env bash
# Median whole-sequence times, in one run, hutch beside podman (when
# installed): `pod create` + two `run -d --pod` + `pod rm -f`, the cycle a
# compose project or a test harness repeats; and `kube play` + `kube down`
# of a three-container pod (containers that exit on SIGTERM, so that neither
# tool's stop waits out a timeout; /bin/sh by path: the imported image has
# no PATH, which Podman's kube play does not default). The same busybox image in both,
# --network none for neither (pods get the default rootless network: pasta).
# `pod rm -f -t 0` in both: Podman's -f waits 10 s for the stop signal
# (sleep as PID 1 ignores SIGTERM), hutch's kills at once (docs/pods.md);
# -t 0 makes both kill at once, so the row times the work, not a timeout.
# Usage: bench/pods.sh [runs]   (as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
if [ "$(id -u)" -eq 0 ]; then
  cargo build --release --locked -q
  # hutch runs its monitor from beside itself.
  install -d -m 0755 /tmp/hutch-bench-pods-bin
  install -m 0755 "${CARGO_TARGET_DIR:-target}/release/hutch" "${CARGO_TARGET_DIR:-target}/release/hutch-monitor" /tmp/hutch-bench-pods-bin/
  exec runuser -u hutch-test -- env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH=/tmp/hutch-bench-pods-bin/hutch bash "$PWD/bench/pods.sh" "$runs"
fi
hutch=${HUTCH:-$PWD/target/release/hutch}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)}
tmp=$(mktemp -d /tmp/hutch-bench-pods.XXXXXX)
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/proc" "$tmp/rootfs/dev" "$tmp/rootfs/sys" "$tmp/rootfs/tmp"
cp /bin/busybox "$tmp/rootfs/bin/"
for a in sh sleep; do ln -s busybox "$tmp/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/rootfs/etc/passwd"
tar -C "$tmp/rootfs" -cf "$tmp/bb.tar" .
H="$hutch --root $tmp/h"
$H import -q "$tmp/bb.tar" bench/busybox >/dev/null
P=""
if command -v podman >/dev/null; then
  P="podman --root $tmp/p --runroot $tmp/pr --cgroup-manager cgroupfs"
  $P import -q "$tmp/bb.tar" bench/busybox >/dev/null
fi
# Each tool's pause image is built once, outside the timing.
$H pod create --name warm >/dev/null && $H pod rm -f warm >/dev/null
[ -n "$P" ] && { $P pod create --name warm >/dev/null && $P pod rm -f warm >/dev/null; }
cycle='$TOOL pod create --name b >/dev/null && $TOOL run -d --pod b bench/busybox sleep 1000 >/dev/null && $TOOL run -d --pod b bench/busybox sleep 1000 >/dev/null && $TOOL pod rm -f -t 0 b >/dev/null'
cmds=("TOOL='$H'; $cycle")
[ -n "$P" ] && cmds+=("TOOL='$P'; $cycle")
hyperfine -S bash --warmup 1 --runs "$runs" --style none --export-json "$tmp/r.json" "${cmds[@]}" >/dev/null
cat > "$tmp/k.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: kb}
spec:
  containers:
  - {name: a, image: bench/busybox, command: [/bin/sh, -c, 'trap "exit 0" TERM; sleep 1000 & wait']}
  - {name: b, image: bench/busybox, command: [/bin/sh, -c, 'trap "exit 0" TERM; sleep 1000 & wait']}
  - {name: c, image: bench/busybox, command: [/bin/sh, -c, 'trap "exit 0" TERM; sleep 1000 & wait']}
YAML
kcycle='$TOOL kube play '"$tmp/k.yaml"' >/dev/null && $TOOL kube down '"$tmp/k.yaml"' >/dev/null'
kcmds=("TOOL='$H'; $kcycle")
[ -n "$P" ] && kcmds+=("TOOL='$P'; $kcycle")
hyperfine -S bash --warmup 1 --runs "$runs" --style none --export-json "$tmp/k.json" "${kcmds[@]}" >/dev/null
python3 - "$tmp/r.json" "$tmp/k.json" <<'PY'
import json, sys
print(f"{'row':<48}{'hutch ms':>10}{'podman ms':>11}{'podman/hutch':>14}")
rows = ["pod create + 2x run -d --pod + pod rm -f -t 0", "kube play + kube down (3 containers)"]
for name, path in zip(rows, sys.argv[1:]):
    m = [x["median"] for x in json.load(open(path))["results"]]
    pod = f"{m[1]*1e3:>11.1f}" if len(m) > 1 else f"{'-':>11}"
    ratio = f"{m[1]/m[0]:>13.2f}x" if len(m) > 1 else f"{'-':>14}"
    print(f"{name:<48}{m[0]*1e3:>10.1f}{pod}{ratio}")
PY
$H pod rm -a -f >/dev/null 2>&1 || true
[ -n "$P" ] && $P pod rm -a -f >/dev/null 2>&1 || true
$H unshare rm -rf "$tmp" 2>/dev/null || true
[ -n "$P" ] && podman --root "$tmp/p" --runroot "$tmp/pr" unshare rm -rf "$tmp/p" 2>/dev/null || true
rm -rf "$tmp" 2>/dev/null || true
