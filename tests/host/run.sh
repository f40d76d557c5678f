#!/usr/bin/env bash
# The systemd host tier: boots the Debian guest that build-image.sh makes
# under qemu (TCG), with a hutch binary and the guest test script shared in
# over 9p (read-only), and prints what the script printed as the lingering
# user `tester`. Run as root.
#   tests/host/run.sh [--hutch PATH] [--script FILE] [--timeout SECONDS]
# Defaults: the hutch that `cargo build` made ($CARGO_TARGET_DIR or target/,
# debug), tests/host/guest-tests.sh, 1500 s for boot, tests and power-off.
# Exit code: the script's; 2 when the guest never reported one (boot
# failure or timeout: the end of the serial console is printed then).
# $HUTCH_HOST_RUNS (default 5) is passed to the guest: timing runs per manager.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

hutch=${CARGO_TARGET_DIR:-$repo/target}/debug/hutch
script=$here/guest-tests.sh
timeout=${HUTCH_HOST_TIMEOUT:-1500}
while [ $# -gt 0 ]; do
  case $1 in
    --hutch) hutch=$2; shift 2 ;;
    --script) script=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    *) echo "usage: $0 [--hutch PATH] [--script FILE] [--timeout SECONDS]" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then
  echo "tests/host/run.sh must run as root" >&2
  exit 2
fi
for f in "$hutch" "$script"; do
  [ -f "$f" ] || { echo "host tier: $f: no such file" >&2; exit 2; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "host tier: qemu-system-x86_64 is not installed" >&2; exit 2; }

t0=$(date +%s)
img=$(bash "$here/build-image.sh")
t1=$(date +%s)
echo "host tier: image $img ready in $((t1 - t0)) s ($(cat "$img/ready"))"

work=$(mktemp -d /tmp/hutch-host-tier.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in" "$work/out"
install -m 0755 "$hutch" "$work/in/hutch"
# hutch runs its monitor from beside itself.
install -m 0755 "$(dirname "$hutch")/hutch-monitor" "$work/in/hutch-monitor"
# A debug build carries ~150 MB of debug info the guest would page in over 9p.
strip --strip-debug "$work/in/hutch" "$work/in/hutch-monitor" 2>/dev/null || true
install -m 0644 "$script" "$work/in/guest-tests.sh"
# The example user units of the API socket, and the host's docker CLI (a
# real client of the socket) when it has one.
install -m 0644 "$repo/examples/hutch.socket" "$repo/examples/hutch.service" "$work/in/"
if d=$(command -v docker); then install -m 0755 "$d" "$work/in/docker"; fi
# Debian's docker-registry of the host (tests/setup-host.sh installs it;
# it needs only libc), for the auto-update checks' local registry: shared
# in rather than installed in the image, which would rebuild it.
if [ -x /usr/bin/docker-registry ]; then install -m 0755 /usr/bin/docker-registry "$work/in/docker-registry"; fi
# The guest has no ca-certificates, and the registry client wants CA roots
# even for a plain HTTP registry: the host's bundle, for SSL_CERT_FILE.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then install -m 0644 /etc/ssl/certs/ca-certificates.crt "$work/in/"; fi
echo "HUTCH_HOST_RUNS=${HUTCH_HOST_RUNS:-5}" > "$work/in/env"

# TCG: /dev/kvm on this machine kind is a paravirtual device that cannot
# boot a stock kernel. No NIC (-nodefaults): the guest has a dummy interface.
# snapshot=on keeps the cached image pristine; writes go to a temporary file.
status=0
timeout -k 10 "$timeout" qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
  -nographic -nodefaults -no-reboot -monitor none \
  -serial "file:$work/console.log" \
  -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
  -append "console=ttyS0 root=/dev/vda rw quiet loglevel=3 panic=-1 mitigations=off no_timer_check" \
  -drive "file=$img/rootfs.ext4,format=raw,if=virtio,snapshot=on,cache=unsafe" \
  -virtfs "local,path=$work/in,mount_tag=hutch-in,security_model=none,readonly=on" \
  -virtfs "local,path=$work/out,mount_tag=hutch-out,security_model=none" \
  < /dev/null || status=$?
t2=$(date +%s)
echo "host tier: boot, tests and power-off took $((t2 - t1)) s"
[ "$status" -eq 124 ] && echo "host tier: qemu killed after the ${timeout} s timeout"

# The serial console and the guest's journal are kept for a look.
console=/var/tmp/hutch-host-tier.console.log
cp "$work/console.log" "$console" 2>/dev/null || true
cp "$work/out/journal.log" /var/tmp/hutch-host-tier.journal.log 2>/dev/null || true
[ -f "$work/out/boot.log" ] && cat "$work/out/boot.log"
[ -f "$work/out/output" ] && cat "$work/out/output"
if [ ! -f "$work/out/exit-code" ]; then
  echo "host tier: the guest reported no exit code (qemu status $status); end of its console ($console):"
  tail -n 60 "$work/console.log" 2>/dev/null || true
  exit 2
fi
exit "$(cat "$work/out/exit-code")"
