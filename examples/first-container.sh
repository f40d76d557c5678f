#!/usr/bin/env bash
# A newcomer's first command: prepare the host, build hutch, build a tiny
# image from the host's busybox-static (offline) and run a container from it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --as-user ]; then
  hutch=$2
else
if ! command -v newuidmap >/dev/null || [ ! -x /bin/busybox ]; then
  if [ "$(id -u)" -eq 0 ]; then bash tests/setup-host.sh; else sudo bash tests/setup-host.sh; fi
fi
cargo build --release --locked -q
# cargo puts the binary under CARGO_TARGET_DIR when set (relative to here).
target_dir=${CARGO_TARGET_DIR:-target}
case $target_dir in /*) ;; *) target_dir=$PWD/$target_dir ;; esac
hutch=$target_dir/release/hutch
if [ "$(id -u)" -eq 0 ]; then
  # Root would run rootful; show the rootless path as the test user instead.
  bash tests/setup-host.sh >/dev/null
  # hutch runs its monitor from beside itself.
  [ -d /tmp/hutch-first ] || rm -f /tmp/hutch-first
  install -d -m 0755 /tmp/hutch-first
  install -m 0755 "$hutch" "$hutch-monitor" /tmp/hutch-first/
  exec runuser -u hutch-test -- env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/hutch-test \
    bash "$PWD/examples/first-container.sh" --as-user /tmp/hutch-first/hutch
fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
mkdir -p "$work/rootfs/proc" "$work/rootfs/dev" "$work/rootfs/sys" "$work/rootfs/run" "$work/rootfs/var/tmp"
for applet in sh ls cat echo id uname; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -czf "$work/busybox.tar.gz" .

"$hutch" import --change 'CMD=/bin/sh' "$work/busybox.tar.gz" busybox >/dev/null
"$hutch" images
"$hutch" run --rm busybox /bin/sh -c 'echo "hello from a rootless busybox container: $(id)"; uname -a'
