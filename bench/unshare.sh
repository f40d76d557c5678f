#!/usr/bin/env bash
# Median whole-process time of joining the user namespace:
#   hutch unshare true     (join path: pause process exists)
#   unshare -Ur true       (the kernel's lower bound: create a fresh namespace)
#   podman unshare true    (when podman is installed)
# and, in the same run, the namespace held without a pause process
# (HUTCH_NO_PAUSE_PROCESS=1, nsfs file handles, Linux >= 6.18) beside the
# pause process: the join path while a running container's monitor holds
# it, the idle case (every command creates it), and `run --rm` in both.
# Usage: bench/unshare.sh [runs] [run-runs]   (as an unprivileged user; as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
run_runs=${2:-20}
if [ "$(id -u)" -eq 0 ]; then
  cargo build --release --locked -q
  # hutch runs its monitor from beside itself.
  install -d -m 0755 /tmp/hutch-bench-bin
  install -m 0755 target/release/hutch target/release/hutch-monitor /tmp/hutch-bench-bin/
  exec runuser -u hutch-test -- env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH=/tmp/hutch-bench-bin/hutch bash "$PWD/bench/unshare.sh" "$runs" "$run_runs"
fi
command -v hyperfine >/dev/null || { echo "bench needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
hutch=${HUTCH:-$PWD/target/release/hutch}
[ -x "$hutch" ] || { cargo build --release --locked -q; hutch=$PWD/target/release/hutch; }
made_xdg=""
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  XDG_RUNTIME_DIR=$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)
  made_xdg=$XDG_RUNTIME_DIR
fi
export XDG_RUNTIME_DIR
out=$(mktemp -d)
"$hutch" unshare true   # create the namespace: what follows measures the join path

cmds=("$hutch unshare true" "unshare -Ur true")
names=("hutch unshare true" "unshare -Ur true")
if command -v podman >/dev/null; then
  podman unshare true >/dev/null 2>&1 || true
  cmds+=("podman unshare true"); names+=("podman unshare true")
fi
hyperfine -N --warmup 20 --runs "$runs" --style none --export-json "$out/r.json" "${cmds[@]}" >/dev/null 2>&1
python3 - "$out/r.json" "${names[@]}" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
names = sys.argv[2:]
base = res[1]["median"]
print(f"{'command':<24}{'median ms':>10}{'mean ms':>10}{'vs unshare -Ur':>16}")
for name, r in zip(names, res):
    print(f"{name:<24}{r['median']*1e3:>10.2f}{r['mean']*1e3:>10.2f}{r['median']/base:>15.2f}x")
PY
"$hutch" system migrate
[ -z "$made_xdg" ] || rm -rf "$made_xdg"

# Pause process against nsfs handles. Each mode gets a home and runtime
# directory of its own: a live pause process recorded in the home would
# otherwise be joined by the nsfs side too.
tmp=$(mktemp -d /tmp/hutch-bench-nsfs.XXXXXX)
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/proc" "$tmp/rootfs/dev" "$tmp/rootfs/sys" "$tmp/rootfs/tmp"
cp /bin/busybox "$tmp/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$tmp/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/rootfs/etc/passwd"
tar -C "$tmp/rootfs" -cf "$tmp/bb.tar" .
for m in pause nsfs; do
  mkdir -m 0700 -p "$tmp/$m/home" "$tmp/$m/xdg"
done
pause_env=(env "HOME=$tmp/pause/home" "XDG_RUNTIME_DIR=$tmp/pause/xdg")
nsfs_env=(env "HOME=$tmp/nsfs/home" "XDG_RUNTIME_DIR=$tmp/nsfs/xdg" HUTCH_NO_PAUSE_PROCESS=1)
holder_env=(env "HOME=$tmp/held/home" "XDG_RUNTIME_DIR=$tmp/held/xdg" HUTCH_NO_PAUSE_PROCESS=1)
mkdir -m 0700 -p "$tmp/held/home" "$tmp/held/xdg"
for e in pause_env nsfs_env holder_env; do
  declare -n ev=$e
  "${ev[@]}" "$hutch" import -q "$tmp/bb.tar" bench/busybox >/dev/null
done
if [ ! -e "$tmp/nsfs/xdg/hutch/ns.handles" ]; then
  echo "no nsfs file handles on this kernel (Linux < 6.18): the pause process rows only" >&2
fi
# The held case: a running container's monitor keeps the namespace.
"${holder_env[@]}" "$hutch" run -d --network none --name holder bench/busybox sleep 3600 >/dev/null
"${pause_env[@]}" "$hutch" unshare true
net=""
"$hutch" run --help 2>/dev/null | grep -q -- '--network' && net="--network none"
j=("${pause_env[*]} $hutch unshare true" "${holder_env[*]} $hutch unshare true" "${nsfs_env[*]} $hutch unshare true")
jn=("join: pause process" "join: nsfs, held" "nsfs, idle: create")
r=("${pause_env[*]} $hutch run --rm $net bench/busybox true" "${nsfs_env[*]} $hutch run --rm $net bench/busybox true")
rn=("run --rm: pause process" "run --rm: nsfs, idle")
hyperfine -N --warmup 10 --runs "$runs" --style none --export-json "$out/j.json" "${j[@]}" >/dev/null 2>&1
hyperfine -N --warmup 3 --runs "$run_runs" --style none --export-json "$out/r.json" "${r[@]}" >/dev/null 2>&1
python3 - "$out/j.json" "$out/r.json" "${jn[@]}" "${rn[@]}" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]
names = sys.argv[3:]
print()
print(f"{'command':<28}{'median ms':>10}{'mean ms':>10}{'vs pause':>10}")
for i, (name, r) in enumerate(zip(names, res)):
    base = res[0 if i < 3 else 3]["median"]
    print(f"{name:<28}{r['median']*1e3:>10.2f}{r['mean']*1e3:>10.2f}{r['median']/base:>9.2f}x")
PY
"${holder_env[@]}" "$hutch" rm -f -t 0 holder >/dev/null
# The stores hold files of mapped ids: removed from inside the namespace
# while its pause process lives, which `system migrate` then ends (removing
# them after it would make a new pause process that nothing ends).
"${pause_env[@]}" "$hutch" unshare rm -rf "$tmp/pause/home" "$tmp/nsfs" "$tmp/held" "$tmp/rootfs" "$tmp/bb.tar"
"${pause_env[@]}" "$hutch" system migrate >/dev/null
rm -rf "$out" "$tmp"
