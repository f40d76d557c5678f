#!/usr/bin/env bash
# `build` in one run, hutch beside podman (when installed), same context,
# same busybox base, same host: a four-stage Containerfile (busybox only,
# ~4 MB copied, a few RUN steps), median wall times of
#   uncached  (--no-cache: every step runs),
#   cached    (an unchanged rebuild: every step from the layer cache),
#   one-file  (one copied file edited: only the steps after its COPY run),
#   jobs2     (uncached with --jobs 2: the stages data and tools at once).
# Targets (issue 14): uncached at least as fast as podman, cached 3x faster.
# Usage: bench/build.sh [runs]   (as root it runs as hutch-test)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
if [ "$(id -u)" -eq 0 ]; then
  if [ -z "${HUTCH:-}" ]; then
    cargo build --release --locked -q
    HUTCH_SRC="${CARGO_TARGET_DIR:-target}/release"
  else
    HUTCH_SRC=$(dirname "$HUTCH")
  fi
  install -d -m 0755 /tmp/hutch-bench-bin
  install -m 0755 "$HUTCH_SRC/hutch" "$HUTCH_SRC/hutch-monitor" /tmp/hutch-bench-bin/
  exec runuser -u hutch-test -- env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    HUTCH=/tmp/hutch-bench-bin/hutch bash "$PWD/bench/build.sh" "$runs"
fi
hutch=${HUTCH:-$PWD/target/release/hutch}
own_xdg=""
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  own_xdg=$(mktemp -d /tmp/hutch-bench-xdg.XXXXXX)
  export XDG_RUNTIME_DIR=$own_xdg
fi
tmp=$(mktemp -d /tmp/hutch-bench-build.XXXXXX)
cleanup() {
  $H rm -a -f >/dev/null 2>&1 || true
  [ -n "${P:-}" ] && $P rm -a -f >/dev/null 2>&1
  [ -n "${P:-}" ] && $P unshare rm -rf "$tmp/p" "$tmp/pr" >/dev/null 2>&1
  $H unshare rm -rf "$tmp/h" >/dev/null 2>&1 || true
  rm -rf "$tmp" 2>/dev/null || true
  # podman's pause process of a runtime dir made here goes with it.
  if [ -n "$own_xdg" ]; then
    pp=$(head -n1 "$own_xdg/libpod/tmp/pause.pid" 2>/dev/null || true)
    [ -n "$pp" ] && kill "$pp" 2>/dev/null
    rm -rf "$own_xdg" 2>/dev/null || true
  fi
}
trap cleanup EXIT

mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/proc" "$tmp/rootfs/dev" "$tmp/rootfs/sys" "$tmp/rootfs/tmp" "$tmp/rootfs/run" "$tmp/rootfs/var/tmp"
cp /bin/busybox "$tmp/rootfs/bin/"
for a in sh cat echo ls mkdir cp wc sha256sum true; do ln -s busybox "$tmp/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/rootfs/etc/passwd"
tar -C "$tmp/rootfs" -cf "$tmp/bb.tar" .

# The context: 64 files of 64 KiB (4 MiB) and one small file to edit.
ctx="$tmp/ctx"
mkdir -p "$ctx/data"
for i in $(seq 64); do head -c 65536 /dev/urandom > "$ctx/data/f$i"; done
echo v1 > "$ctx/edit.txt"
cat > "$ctx/Containerfile" <<'CF'
FROM localhost/bench/busybox AS base
RUN mkdir -p /opt/app && echo base > /opt/app/base

FROM base AS data
COPY data/ /opt/data/
RUN cat /opt/data/* | wc -c > /opt/size

FROM base AS tools
RUN echo tool > /opt/app/tool && sha256sum /opt/app/tool > /opt/app/tool.sum

FROM base
COPY --from=data /opt/data /opt/data
COPY --from=tools /opt/app/tool /opt/app/tool
COPY edit.txt /opt/app/edit.txt
RUN cat /opt/app/edit.txt > /opt/app/edited
ENV APP=bench
CMD ["cat", "/opt/app/edited"]
CF

H="$hutch --root $tmp/h"
$H import -q "$tmp/bb.tar" localhost/bench/busybox >/dev/null
P=""
if command -v podman >/dev/null; then
  P="podman --root $tmp/p --runroot $tmp/pr --runtime ${RUNTIME:-crun}"
  $P import -q "$tmp/bb.tar" localhost/bench/busybox >/dev/null
fi

ms() { # COMMAND...: wall milliseconds
  local s e
  s=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "bench/build: failed: $*" >&2; "$@" >&2 || true; exit 1; }
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

declare -A res
for tool in hutch podman; do
  if [ "$tool" = hutch ]; then B=$H; else [ -n "$P" ] || continue; B=$P; fi
  unc=(); cac=(); one=(); jb2=()
  # Warm up (a first build pays for first-use setup, the namespace).
  ms $B build -t bench/out "$ctx" >/dev/null
  for r in $(seq "$runs"); do
    unc+=("$(ms $B build --no-cache -t bench/out "$ctx")")
    cac+=("$(ms $B build -t bench/out "$ctx")")
    echo "v$r-$tool" > "$ctx/edit.txt"
    one+=("$(ms $B build -t bench/out "$ctx")")
    jb2+=("$(ms $B build --no-cache --jobs 2 -t bench/out "$ctx")")
  done
  # The image is what the Containerfile says (a failed step would show).
  got=$($B run --rm bench/out)
  [ "$got" = "v$runs-$tool" ] || { echo "bench/build: $tool's image printed '$got'" >&2; exit 1; }
  res[$tool-uncached]=$(echo "${unc[@]}" | median)
  res[$tool-cached]=$(echo "${cac[@]}" | median)
  res[$tool-onefile]=$(echo "${one[@]}" | median)
  res[$tool-jobs2]=$(echo "${jb2[@]}" | median)
done

echo "build: four stages, 4 MiB copied, median of $runs runs (ms)"
for k in uncached cached onefile jobs2; do
  h=${res[hutch-$k]}
  if [ -n "${res[podman-$k]:-}" ]; then
    p=${res[podman-$k]}
    printf '  %-9s hutch %6d  podman %6d  podman/hutch %5.2fx\n' "$k" "$h" "$p" "$(echo "$p / $h" | bc -l)"
  else
    printf '  %-9s hutch %6d\n' "$k" "$h"
  fi
done
