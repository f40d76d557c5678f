#!/usr/bin/env bash
# Peak resident memory (Max RSS from /usr/bin/time -v, i.e. VmHWM) of
#   1. `hutch pull` of a ~200 MB image of random data (two gzip layers)
#      from a local registry (Debian's docker-registry on 127.0.0.1) into
#      empty storage;
#   2. `hutch pull` of a manifest that never ends (a tiny Python server
#      streams up to 2 GiB without Content-Length), which must be refused at
#      MAX_MANIFEST_BYTES (4 MiB, src/image/registry/pull.rs) with memory
#      bounded by that limit plus a constant.
# Usage: bench/pull-memory.sh   (as root it runs as hutch-test; HUTCH=path
# picks a binary, default a fresh release build)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  bin=/tmp/hutch-bench-mem-bin
  install -d -m 0755 "$bin"
  if [ -z "${HUTCH:-}" ]; then
    cargo build --release --locked -q
    HUTCH=${CARGO_TARGET_DIR:-target}/release/hutch
  fi
  # hutch finds its monitor beside itself.
  install -m 0755 "$HUTCH" "$(dirname "$HUTCH")/hutch-monitor" "$bin/"
  work=$(mktemp -d /tmp/hutch-bench-mem.XXXXXX)
  chmod 0755 "$work"
  free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  port=$(free)
  endless=$(free)
  cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  reg=$!
  # The endless manifest: 200 to /v2/, then a manifest body that goes on
  # (2 GiB of JSON whitespace after an opening brace), no Content-Length.
  python3 - "$endless" >"$work/endless.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        if self.path in ("/v2", "/v2/"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.end_headers()
        chunk = b"{" + b" " * ((1 << 20) - 1)
        sent = 0
        try:
            while sent < (2 << 30):
                self.wfile.write(chunk)
                chunk = b" " * (1 << 20)
                sent += 1 << 20
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.log_message("sent %d MiB", sent >> 20)
    do_HEAD = do_GET
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
  srv=$!
  trap 'kill $reg $srv 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$endless/v2/" >/dev/null && break; sleep 0.1; done
  runuser -u hutch-test -- env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH="$bin/hutch" REGISTRY=127.0.0.1:$port ENDLESS=127.0.0.1:$endless \
    bash "$PWD/bench/pull-memory.sh"
  echo "endless server: $(tail -1 "$work/endless.log")"
  exit
fi
hutch=${HUTCH:-$PWD/target/release/hutch}
: "${REGISTRY:?run as root, or set REGISTRY and ENDLESS (host:port)}"
: "${ENDLESS:?run as root, or set REGISTRY and ENDLESS (host:port)}"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)}
tmp=$(mktemp -d /tmp/hutch-bench-user.XXXXXX)
conf=$tmp/registries.conf
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n[[registry]]\nlocation = "%s"\ninsecure = true\n' \
  "$REGISTRY" "$ENDLESS" > "$conf"
export CONTAINERS_REGISTRIES_CONF=$conf

# Two gzip layers of 100 MiB of random data each, as an OCI layout.
python3 - "$tmp" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
blobs = os.path.join(out, "layout/blobs/sha256"); os.makedirs(blobs)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, h), "wb").write(data)
    return "sha256:" + h, len(data)
layers, diff_ids = [], []
for i in range(2):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for j in range(4):
            data = os.urandom(25 << 20)
            info = tarfile.TarInfo(f"layer{i}/file{j}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    d, n = put(gzip.compress(raw, compresslevel=1, mtime=0))
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
"$hutch" --root "$seed" tag "$("$hutch" --root "$seed" images -q | head -1)" "$REGISTRY/bench/random:latest"
"$hutch" --root "$seed" push -q "$REGISTRY/bench/random:latest"
size=$(du -sb "$seed/blobs" | cut -f1)

# Max RSS in KiB and the exit code of one command.
peak() {
  local out=$tmp/time.txt code=0
  /usr/bin/time -v -o "$out" "$@" >"$tmp/cmd.out" 2>"$tmp/cmd.err" || code=$?
  echo "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out") $code"
}
"$hutch" version >/dev/null # the namespace exists before the first measure
read -r big big_code < <(peak "$hutch" --root "$tmp/h" pull -q "$REGISTRY/bench/random:latest")
read -r refused refused_code < <(peak "$hutch" --root "$tmp/e" pull -q "$ENDLESS/bench/endless:latest")
refused_err=$(head -c 300 "$tmp/cmd.err")
read -r idle idle_code < <(peak "$hutch" --root "$tmp/h" images -q)
printf '%-46s %10s %6s\n' "command" "peak RSS" "exit"
printf '%-46s %7d KiB %6d\n' "hutch images -q (baseline)" "$idle" "$idle_code"
printf '%-46s %7d KiB %6d\n' "hutch pull, $((size / 1000000)) MB random image" "$big" "$big_code"
printf '%-46s %7d KiB %6d\n' "hutch pull, endless (2 GiB) manifest" "$refused" "$refused_code"
echo "refusal: $refused_err"
"$hutch" unshare rm -rf "$tmp"
# The pause process this run made goes too.
"$hutch" system migrate >/dev/null 2>&1 || true
