#!/usr/bin/env bash
# Median pull time and throughput of a ~200 MB, four-layer image from a
# local registry (Debian's docker-registry on 127.0.0.1) into empty storage:
# hutch, and podman when installed, in one run.
# Usage: bench/pull.sh [runs]   (as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
if [ "$(id -u)" -eq 0 ]; then
  cargo build --release --locked -q
  install -m 0755 target/release/hutch /tmp/hutch-bench
  work=$(mktemp -d /tmp/hutch-bench-pull.XXXXXX)
  chmod 0755 "$work"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  reg=$!
  trap 'kill $reg 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
  runuser -u hutch-test -- env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH=/tmp/hutch-bench REGISTRY=127.0.0.1:$port bash "$PWD/bench/pull.sh" "$runs"
  exit
fi
hutch=${HUTCH:-$PWD/target/release/hutch}
: "${REGISTRY:?run as root, or set REGISTRY=host:port of a running registry}"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)}
tmp=$(mktemp -d /tmp/hutch-bench-user.XXXXXX)
conf=$tmp/registries.conf
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY" > "$conf"
export CONTAINERS_REGISTRIES_CONF=$conf

# Four gzip layers of ~50 MB each (half random, half text), as an OCI layout.
python3 - "$tmp" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile, random
out = sys.argv[1]
blobs = os.path.join(out, "layout/blobs/sha256"); os.makedirs(blobs)
os.makedirs(os.path.join(out, "raw"))
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, h), "wb").write(data)
    return "sha256:" + h, len(data)
layers, diff_ids = [], []
for i in range(4):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for j in range(5):
            data = os.urandom(5 << 20) + (b"hutch benchmark line %d\n" % j) * ((5 << 20) // 24)
            info = tarfile.TarInfo(f"layer{i}/file{j}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    gz = gzip.compress(raw, compresslevel=1, mtime=0)
    open(os.path.join(out, "raw", f"layer{i}.tar.gz"), "wb").write(gz)
    d, n = put(gz)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
cd, cn = put(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
    "layers": layers}).encode()
md, mn = put(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": mn, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]},
    open(os.path.join(out, "layout/index.json"), "w"))
open(os.path.join(out, "layout/oci-layout"), "w").write('{"imageLayoutVersion": "1.0.0"}')
PY
seed=$tmp/seed
"$hutch" --root "$seed" pull -q "oci:$tmp/layout:latest" >/dev/null
"$hutch" --root "$seed" tag "$("$hutch" --root "$seed" images -q | head -1)" "$REGISTRY/bench/big:latest"
"$hutch" --root "$seed" push -q "$REGISTRY/bench/big:latest"
size=$(du -sb "$seed/blobs" | cut -f1)

# Lower bound: what any puller must do to the same bytes (gunzip, hash,
# untar to disk), without the network.
mkdir -p "$tmp/x"
cmds=("for l in $tmp/raw/*.tar.gz; do gzip -dc \$l | tee >(sha256sum >/dev/null) | tar -x -C $tmp/x; done"
      "$hutch --root $tmp/h pull -q $REGISTRY/bench/big:latest")
prep=("rm -rf $tmp/x/layer0 $tmp/x/layer1 $tmp/x/layer2 $tmp/x/layer3" "$hutch unshare rm -rf $tmp/h")
names=("gunzip+sha+untar" "hutch pull")
if command -v podman >/dev/null; then
  cmds+=("podman --root $tmp/p --runroot $tmp/pr pull -q --tls-verify=false $REGISTRY/bench/big:latest")
  prep+=("podman unshare rm -rf $tmp/p $tmp/pr")
  names+=("podman pull")
fi
args=()
for i in "${!cmds[@]}"; do args+=(--prepare "${prep[$i]}" "${cmds[$i]}"); done
hyperfine --shell bash --runs "$runs" --style none --export-json "$tmp/r.json" "${args[@]}" >/dev/null 2>&1
python3 - "$tmp/r.json" "$size" "${names[@]}" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
size = int(sys.argv[2]); names = sys.argv[3:]
print(f"image: {size/1e6:.0f} MB of gzip blobs, 4 layers")
h = res[1]["median"]
print(f"{'command':<18}{'median s':>10}{'MB/s':>8}{'vs hutch':>10}")
for n, r in zip(names, res):
    print(f"{n:<18}{r['median']:>10.2f}{size/1e6/r['median']:>8.0f}{r['median']/h:>9.2f}x")
PY
"$hutch" unshare rm -rf "$tmp"
"$hutch" system migrate
command -v podman >/dev/null && podman system migrate >/dev/null 2>&1 || true
