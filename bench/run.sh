#!/usr/bin/env bash
# Median whole-process time of a container that does nothing, in one run:
#   hutch run --rm busybox true        (--network none is implied: no networking yet)
#   runc run on the same root, inside hutch's namespace (the runtime's lower bound)
#   podman run --rm --network none busybox true (runc, when podman is installed)
# Usage: bench/run.sh [runs]   (as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
if [ "$(id -u)" -eq 0 ]; then
  cargo build --release --locked -q
  install -m 0755 target/release/hutch /tmp/hutch-bench
  exec runuser -u hutch-test -- env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH=/tmp/hutch-bench bash "$PWD/bench/run.sh" "$runs"
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
id=$("$hutch" --root "$root" run -d --name spec-source bench/busybox true)
mkdir -p "$tmp/bundle"
cp "$root/containers/$id/userdata/config.json" "$tmp/bundle/config.json.in"
mnt=$("$hutch" --root "$root" image mount bench/busybox)
python3 - "$tmp/bundle" "$mnt" <<'PY'
import json, sys
b, mnt = sys.argv[1], sys.argv[2]
spec = json.load(open(b + "/config.json.in"))
spec["root"] = {"path": mnt, "readonly": True}
spec["process"]["args"] = ["/bin/true"]
json.dump(spec, open(b + "/config.json", "w"))
PY

cmds=("$hutch --root $root run --rm bench/busybox true" "$hutch --root $root unshare runc --root $tmp/runc run --bundle $tmp/bundle bench")
names=("hutch run --rm" "runc run (same ns)")
if command -v podman >/dev/null; then
  podman --root "$tmp/p" --runroot "$tmp/pr" import -q "$tmp/bb.tar" bench/busybox >/dev/null
  cmds+=("podman --root $tmp/p --runroot $tmp/pr --runtime runc run --rm --network none bench/busybox true")
  names+=("podman run --rm")
fi
hyperfine -N --warmup 3 --runs "$runs" --style none --export-json "$tmp/r.json" "${cmds[@]}" >/dev/null 2>&1
python3 - "$tmp/r.json" "${names[@]}" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
names = sys.argv[2:]
base = res[1]["median"]
print(f"{'command':<22}{'median ms':>10}{'vs runc':>9}")
for n, r in zip(names, res):
    print(f"{n:<22}{r['median']*1e3:>10.1f}{r['median']/base:>8.2f}x")
if len(res) > 2:
    print(f"podman / hutch: {res[2]['median']/res[0]['median']:.2f}x")
PY
"$hutch" --root "$root" rm -a -f >/dev/null 2>&1 || true
"$hutch" --root "$root" unshare rm -rf "$tmp" 2>/dev/null || true
command -v podman >/dev/null && podman --root "$tmp/p" --runroot "$tmp/pr" unshare rm -rf "$tmp/p" 2>/dev/null || true
"$hutch" system migrate
