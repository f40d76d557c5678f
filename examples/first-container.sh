#!/usr/bin/env bash
# A newcomer's first command: prepare the host, build hutch, and enter the
# rootless user namespace. Works offline once the packages are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v newuidmap >/dev/null || ! command -v crun >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then bash tests/setup-host.sh; else sudo bash tests/setup-host.sh; fi
fi
cargo build --release --locked -q
hutch=target/release/hutch
if [ "$(id -u)" -eq 0 ]; then
  # Root runs rootful; show the rootless path as the test user instead.
  bash tests/setup-host.sh >/dev/null
  install -m 0755 "$hutch" /tmp/hutch-first
  runuser -u hutch-test -- env -i PATH=/usr/bin:/bin HOME=/home/hutch-test /tmp/hutch-first unshare id
  runuser -u hutch-test -- env -i PATH=/usr/bin:/bin HOME=/home/hutch-test /tmp/hutch-first unshare cat /proc/self/uid_map
  exit 0
fi
"$hutch" unshare id
"$hutch" unshare cat /proc/self/uid_map
