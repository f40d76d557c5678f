#!/usr/bin/env bash
# Median whole-process times, in one run, hutch beside podman (when installed):
#   run --rm --network none busybox true, and the raw runtime on the same root
#     inside hutch's namespace (the lower bound; crun, the runtime most users
#     have: on a hybrid host it needs hugetlb as a v1 hierarchy, which
#     tests/setup-host.sh mounts; RUNTIME=runc for the other)
#   ps -a with 100 containers; rm -f of 100 containers; 16 concurrent run --rm
# Usage: bench/run.sh [runs]   (as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
if [ "$(id -u)" -eq 0 ]; then
  cargo build --release --locked -q
  # hutch runs its monitor from beside itself.
  install -d -m 0755 /tmp/hutch-bench-bin
  install -m 0755 "${CARGO_TARGET_DIR:-target}/release/hutch" "${CARGO_TARGET_DIR:-target}/release/hutch-monitor" /tmp/hutch-bench-bin/
  exec runuser -u hutch-test -- env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH=/tmp/hutch-bench-bin/hutch bash "$PWD/bench/run.sh" "$runs"
fi
hutch=${HUTCH:-$PWD/target/release/hutch}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)}
tmp=$(mktemp -d /tmp/hutch-bench-run.XXXXXX)
root=$tmp/storage
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/proc" "$tmp/rootfs/dev" "$tmp/rootfs/sys" "$tmp/rootfs/tmp" "$tmp/rootfs/run" "$tmp/rootfs/var/tmp"
cp /bin/busybox "$tmp/rootfs/bin/"
for a in sh true; do ln -s busybox "$tmp/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/rootfs/etc/passwd"
tar -C "$tmp/rootfs" -cf "$tmp/bb.tar" .
"$hutch" --root "$root" import -q "$tmp/bb.tar" bench/busybox >/dev/null

# The spec hutch generates, pointed at the image's read-only mount, for runc.
id=$("$hutch" --root "$root" run -d --network none --name spec-source bench/busybox true)
mkdir -p "$tmp/bundle"
cp "$root/containers/$id/userdata/config.json" "$tmp/bundle/config.json.in"
mnt="$tmp/rootfs"   # the same files the image holds
python3 - "$tmp/bundle" "$mnt" <<'PY'
import json, sys
b, mnt = sys.argv[1], sys.argv[2]
spec = json.load(open(b + "/config.json.in"))
spec["root"] = {"path": mnt, "readonly": True}
# The per-container /etc files go with the source container: copy them.
import os, shutil
for i, m in enumerate(spec.get("mounts", [])):
    src = m.get("source", "")
    if "/containers/" in src and os.path.isfile(src):
        dst = os.path.join(b, f"etc-{i}-{os.path.basename(src)}")
        shutil.copy(src, dst)
        m["source"] = dst
# A fresh network namespace of loopback only, as --network none.
for ns in spec["linux"].get("namespaces", []):
    if ns["type"] == "network":
        ns.pop("path", None)
spec["process"]["args"] = ["/bin/true"]
json.dump(spec, open(b + "/config.json", "w"))
PY

"$hutch" --root "$root" rm -a -f >/dev/null
runtime=${RUNTIME:-crun}
net=""
"$hutch" run --help 2>/dev/null | grep -q -- '--network' && net="--network none"
H="$hutch --root $root"
P=""
if command -v podman >/dev/null; then
  P="podman --root $tmp/p --runroot $tmp/pr --runtime $runtime"
  $P import -q "$tmp/bb.tar" bench/busybox >/dev/null
fi
# Rows: "name|hutch command|podman command|prepare (run with TOOL set)|runs"
make100='for i in $(seq 100); do $TOOL create bench/busybox true >/dev/null 2>&1 || $TOOL run -d bench/busybox true >/dev/null; done'
conc16='for i in $(seq 16); do $TOOL run --rm '"$net"' bench/busybox true & done; wait'
python_rows=$tmp/rows
: > "$python_rows"
row() { # name runs prepare hutch-cmd podman-cmd
  local name=$1 n=$2 prep=$3 hc=$4 pc=$5 args=()
  args=(--runs "$n" --style none --export-json "$tmp/row.json")
  if [ -n "$prep" ]; then
    args+=(--prepare "TOOL='$H'; $prep")
    [ -n "$P" ] && args+=(--prepare "TOOL='$P'; $prep")
  fi
  local cmds=("$hc") ; [ -n "$P" ] && cmds+=("$pc")
  hyperfine -S bash "${args[@]}" "${cmds[@]}" >/dev/null 2>&1 || { echo "$name|failed" >> "$python_rows"; return; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(sys.argv[2]+"|"+"|".join(str(x["median"]) for x in r))' "$tmp/row.json" "$name" >> "$python_rows"
}
# run --rm against the raw runtime: hyperfine -N (no shell) for the three.
cmds=("$H run --rm $net bench/busybox true" "$H unshare $runtime --root $tmp/rt run --bundle $tmp/bundle bench")
[ -n "$P" ] && cmds+=("$P run --rm --network none bench/busybox true")
hyperfine -N --warmup 3 --runs "$runs" --style none --export-json "$tmp/r.json" "${cmds[@]}" >/dev/null 2>&1
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print("run --rm true|"+"|".join(str(x["median"]) for x in r))' "$tmp/r.json" > "$tmp/first"
TOOL="$H"; eval "$make100"
[ -n "$P" ] && { TOOL="$P"; eval "$make100"; }
row "ps -a (100 containers)" "$runs" "" "$H ps -a" "$P ps -a"
$H rm -a -f >/dev/null; [ -n "$P" ] && $P rm -a -f >/dev/null
row "rm -f 100 containers" 3 "$make100" "$H rm -f -a" "$P rm -f -a"
row "16 concurrent run --rm" 5 "" "TOOL='$H'; $conc16" "TOOL='$P'; $conc16"
python3 - "$tmp/first" "$python_rows" "$runtime" <<'PY'
import sys
first = open(sys.argv[1]).read().strip().split("|")
rt = sys.argv[3]
meds = [float(x) for x in first[1:]]
print(f"{'row':<26}{'hutch ms':>10}{rt+' ms':>10}{'podman ms':>11}{'hutch/'+rt:>12}{'podman/hutch':>14}")
pod = f"{meds[2]*1e3:>11.1f}" if len(meds) > 2 else f"{'-':>11}"
ratio = f"{meds[2]/meds[0]:>13.2f}x" if len(meds) > 2 else f"{'-':>14}"
print(f"{'run --rm true':<26}{meds[0]*1e3:>10.1f}{meds[1]*1e3:>10.1f}{pod}{meds[0]/meds[1]:>11.2f}x{ratio}")
for line in open(sys.argv[2]):
    f = line.strip().split("|")
    if f[1] == "failed":
        print(f"{f[0]:<26} failed"); continue
    m = [float(x) for x in f[1:]]
    pod = f"{m[1]*1e3:>11.1f}" if len(m) > 1 else f"{'-':>11}"
    ratio = f"{m[1]/m[0]:>13.2f}x" if len(m) > 1 else f"{'-':>14}"
    print(f"{f[0]:<26}{m[0]*1e3:>10.1f}{'-':>10}{pod}{'-':>12}{ratio}")
PY
$H rm -a -f >/dev/null 2>&1 || true
[ -n "$P" ] && $P rm -a -f >/dev/null 2>&1 || true
"$hutch" --root "$root" unshare rm -rf "$tmp" 2>/dev/null || true
command -v podman >/dev/null && podman --root "$tmp/p" --runroot "$tmp/pr" unshare rm -rf "$tmp/p" 2>/dev/null || true
"$hutch" system migrate
