#!/usr/bin/env bash
# Median whole-process time of joining the user namespace:
#   hutch unshare true     (join path: pause process exists)
#   unshare -Ur true       (the kernel's lower bound: create a fresh namespace)
#   podman unshare true    (when podman is installed)
# Usage: bench/unshare.sh [runs]   (as an unprivileged user; as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
if [ "$(id -u)" -eq 0 ]; then
  cargo build --release --locked -q
  install -m 0755 target/release/hutch /tmp/hutch-bench
  exec runuser -u hutch-test -- env -i PATH=/usr/bin:/bin HOME=/home/hutch-test \
    HUTCH=/tmp/hutch-bench bash "$PWD/bench/unshare.sh" "$runs"
fi
command -v hyperfine >/dev/null || { echo "bench needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
hutch=${HUTCH:-$PWD/target/release/hutch}
[ -x "$hutch" ] || { cargo build --release --locked -q; hutch=$PWD/target/release/hutch; }
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)}
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
rm -rf "$out"
