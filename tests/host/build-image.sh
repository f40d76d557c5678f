#!/usr/bin/env bash
# Builds the guest of hutch's systemd host tier from Debian 12 packages only,
# or reuses the one already cached for this exact script. Run as root.
#   tests/host/build-image.sh          prints the image directory on stdout
#
# The image directory holds vmlinuz, initrd.img (a busybox initramfs that
# only loads virtio/ext4 and mounts the root) and rootfs.ext4 (a raw ext4
# file system built with mkfs.ext4 -d; qemu opens it with snapshot=on, so
# the cached image is never written to). The guest boots systemd with an
# unprivileged user `tester` that lingers, owns subordinate id ranges and
# gets cpu/cpuset/io/memory/pids delegated; a system service mounts the
# host's 9p shares, runs /mnt/in/guest-tests.sh as tester through a PAM
# login session (pam_systemd: XDG_RUNTIME_DIR and the session bus), writes
# the output and exit code to /mnt/out and powers off.
#
# Cache: $HUTCH_HOST_CACHE (default /var/cache/hutch-host-tier), one
# directory per hash of this script; older ones are removed on a rebuild.
# Mirror: $HUTCH_HOST_MIRROR (default: Debian's).
set -euo pipefail

self=$(readlink -f "$0")

# --- the customization of the rootfs that mmdebstrap made: $2 is its path --
if [ "${1:-}" = --customize ]; then
  root=$2
  echo hutch-guest > "$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 hutch-guest\n::1 localhost\n' > "$root/etc/hosts"
  # The initramfs mounts the root read-write already; with no fstab entry
  # systemd neither waits for dev-vda.device nor remounts it.
  echo '# / is mounted read-write by the initramfs' > "$root/etc/fstab"
  # The journal stays in memory: nothing of this boot outlives it.
  mkdir -p "$root/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\n' > "$root/etc/systemd/journald.conf.d/volatile.conf"
  # A fixed machine id: an "uninitialized" one would make every boot a first
  # boot (systemctl preset-all), which costs seconds under TCG.
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$root/etc/machine-id"
  echo >> "$root/etc/machine-id"

  chroot "$root" id -u tester >/dev/null 2>&1 ||
    chroot "$root" useradd --create-home --shell /bin/bash --uid 1000 tester
  for f in subuid subgid; do
    sed -i '/^tester:/d' "$root/etc/$f" 2>/dev/null || true
    echo 'tester:100000:65536' >> "$root/etc/$f"
  done
  # Lingering: logind starts user@1000.service at boot, as for a real user
  # with `loginctl enable-linger`.
  mkdir -p "$root/var/lib/systemd/linger"
  touch "$root/var/lib/systemd/linger/tester"
  mkdir -p "$root/etc/systemd/system/user@.service.d"
  cat > "$root/etc/systemd/system/user@.service.d/delegate.conf" <<'EOF'
[Service]
Delegate=cpu cpuset io memory pids
EOF

  cat > "$root/usr/local/sbin/hutch-host-tier" <<'EOF'
#!/bin/bash
# Runs the host tier's guest tests as tester, then powers the guest off.
set -u
mkdir -p /mnt/in /mnt/out
modprobe -a 9p 9pnet_virtio
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro hutch-in /mnt/in
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 hutch-out /mnt/out
out=/mnt/out
echo "guest: booted, userspace ready after $(cut -d' ' -f1 /proc/uptime) s" > "$out/boot.log"
# No NIC: a dummy interface with a default route gives pasta and slirp4netns
# an interface to copy; nothing leaves the guest.
ip link add dummy0 type dummy && ip addr add 10.0.2.15/24 dev dummy0 &&
  ip link set dummy0 up && ip route add default via 10.0.2.2 ||
  echo "guest: dummy network setup failed" >> "$out/boot.log"
uid=$(id -u tester)
# Quadlet: hutch as the user manager's generator (docs/systemd.md), found at
# its next daemon-reload or start; it was not there when lingering started it.
mkdir -p /usr/local/lib/systemd/user-generators
ln -sf /mnt/in/hutch /usr/local/lib/systemd/user-generators/hutch-quadlet
# A check asks for a fresh start of tester's user manager (what a boot does)
# by creating restart-user here; hutch-restart-user.path does it.
install -d -o tester -g tester -m 0755 /run/hutch-host-tier
systemctl start hutch-restart-user.path >> "$out/boot.log" 2>&1
# Lingering started it already; this waits until its bus socket is up.
systemctl start "user@$uid.service" >> "$out/boot.log" 2>&1
# runuser -l opens a PAM session ("runuser-l", with pam_systemd): a logind
# session, XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS, as a login would.
runuser -l tester -c "HUTCH=/mnt/in/hutch exec bash /mnt/in/guest-tests.sh" \
  > "$out/output" 2>&1
echo $? > "$out/exit-code.tmp"
mv "$out/exit-code.tmp" "$out/exit-code"
echo "guest: tests done after $(cut -d' ' -f1 /proc/uptime) s" >> "$out/boot.log"
# For a look at what the units (and hutch's scopes) did.
journalctl -b -o short-monotonic --no-pager > "$out/journal.log" 2>&1
sync
# Nothing in the guest is worth keeping (its disk is a snapshot) and the
# results are on the 9p share already (9p writes through): power off at once
# rather than wait for leftovers (a container's pid 1 ignores SIGTERM).
systemctl --force --force poweroff
EOF
  chmod 0755 "$root/usr/local/sbin/hutch-host-tier"
  cat > "$root/etc/systemd/system/hutch-host-tier.service" <<'EOF'
[Unit]
Description=hutch host tier: guest tests as tester, then power off
Wants=user@1000.service
After=user@1000.service systemd-logind.service systemd-user-sessions.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/hutch-host-tier
# systemd services ignore SIGPIPE by default and children inherit it, which
# breaks Debian 12's pasta.
IgnoreSIGPIPE=no
TimeoutStartSec=infinity
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
  chroot "$root" systemctl enable hutch-host-tier.service
  # Started by the script above once /run/hutch-host-tier exists. The
  # request file is removed first; restart-user.done gets systemctl's status.
  cat > "$root/etc/systemd/system/hutch-restart-user.path" <<'EOF'
[Unit]
Description=hutch host tier: a check asks for tester's user manager to start anew

[Path]
PathExists=/run/hutch-host-tier/restart-user
EOF
  cat > "$root/etc/systemd/system/hutch-restart-user.service" <<'EOF'
[Unit]
Description=hutch host tier: restart tester's user manager, as at boot

[Service]
Type=oneshot
ExecStart=/bin/rm -f /run/hutch-host-tier/restart-user
ExecStart=/bin/sh -c 'systemctl restart user@1000.service; echo $? > /run/hutch-host-tier/restart-user.done'
EOF
  # Nothing else to do at boot: no logins, no timers.
  chroot "$root" systemctl mask serial-getty@ttyS0.service getty@tty1.service \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
    fstrim.timer systemd-timesyncd.service 2>/dev/null || true

  # The initramfs: busybox-static and the modules to reach the root disk.
  kver=$(basename "$(ls -d "$root"/lib/modules/*/ | head -n1)")
  ird=$(mktemp -d)
  mkdir -p "$ird"/{bin,dev,proc,sys,newroot,mods}
  cp "$root/bin/busybox" "$ird/bin/busybox"
  : > "$ird/mods/order"
  # modprobe resolves dependencies (and softdeps such as crc32c) in order;
  # the builtin ones need nothing.
  chroot "$root" modprobe -S "$kver" -a --show-depends virtio_pci virtio_blk crc32c_generic ext4 |
    awk '$1 == "insmod" { print $2 }' | while read -r ko; do
      name=$(basename "$ko")
      case $name in
        *.xz) xz -dc "$root$ko" > "$ird/mods/${name%.xz}"; name=${name%.xz} ;;
        *.zst) zstd -qdc "$root$ko" > "$ird/mods/${name%.zst}"; name=${name%.zst} ;;
        *) cp "$root$ko" "$ird/mods/$name" ;;
      esac
      grep -qx "$name" "$ird/mods/order" || echo "$name" >> "$ird/mods/order"
    done
  cat > "$ird/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in $(/bin/busybox cat /mods/order); do /bin/busybox insmod "/mods/$m" 2>/dev/null; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do /bin/busybox sleep 0.1; i=$((i + 1)); done
if ! /bin/busybox mount -t ext4 -o rw,noatime /dev/vda /newroot; then
  echo "initramfs: cannot mount /dev/vda"; /bin/busybox poweroff -f
fi
/bin/busybox umount /proc /sys
/bin/busybox mount --move /dev /newroot/dev
exec /bin/busybox switch_root /newroot /sbin/init
EOF
  chmod 0755 "$ird/init"
  (cd "$ird" && find . | "$root/bin/busybox" cpio -o -H newc -R 0:0 2>/dev/null | gzip -1) > "$root/boot/hutch-initrd.img"
  rm -rf "$ird"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "tests/host/build-image.sh must run as root" >&2
  exit 1
fi

cache_root=${HUTCH_HOST_CACHE:-/var/cache/hutch-host-tier}
key=$(sha256sum "$self" | cut -c1-16)
dir=$cache_root/$key
if [ -f "$dir/ready" ]; then
  echo "$dir"
  exit 0
fi
mkdir -p "$cache_root"
exec 9> "$cache_root/lock"
flock 9
if [ -f "$dir/ready" ]; then
  echo "$dir"
  exit 0
fi
# Older images: another version of this script built them.
find "$cache_root" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +

start=$(date +%s)
work=$dir.tmp
rm -rf "$work"
mkdir -p "$work"
# HUTCH_HOST_KEEP_WORK=1 keeps a failed build's tree for a look.
[ "${HUTCH_HOST_KEEP_WORK:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

packages=systemd,systemd-sysv,dbus-user-session,libpam-systemd,uidmap,crun,runc,passt
packages+=,slirp4netns,fuse-overlayfs,busybox-static,catatonit,procps,iproute2,kmod
packages+=,linux-image-amd64
mirror=${HUTCH_HOST_MIRROR:-http://deb.debian.org/debian}
# Modules no guest of this tier loads (graphics, sound, radios, media, ...)
# and documentation are left out: a smaller image copies faster.
excludes=()
for p in /usr/share/man/ /usr/share/doc/ /usr/share/info/ /usr/share/locale/ \
         /lib/modules/*/kernel/drivers/gpu/ /lib/modules/*/kernel/drivers/media/ \
         /lib/modules/*/kernel/drivers/net/wireless/ /lib/modules/*/kernel/sound/ \
         /lib/modules/*/kernel/drivers/infiniband/ /lib/modules/*/kernel/drivers/staging/ \
         /lib/modules/*/kernel/net/wireless/ /lib/modules/*/kernel/net/mac80211/ \
         /lib/modules/*/kernel/drivers/bluetooth/ /lib/modules/*/kernel/net/bluetooth/ \
         /lib/modules/*/kernel/drivers/iio/ /lib/modules/*/kernel/drivers/hid/ \
         /lib/modules/*/kernel/drivers/usb/ /lib/modules/*/kernel/drivers/input/ \
         /lib/modules/*/kernel/drivers/scsi/ /lib/modules/*/kernel/drivers/net/ethernet/; do
  excludes+=("--dpkgopt=path-exclude=$p*")
done

echo "build-image: mmdebstrap bookworm ($mirror)" >&2
# The kernel's postinst would build a full initramfs-tools image (slow, and
# unused: the customize hook builds a small one), so update-initramfs is
# diverted to a no-op before the kernel is installed.
mmdebstrap --mode=root --variant=apt --quiet --aptopt='Acquire::Retries "3"' \
  --include="$packages" "${excludes[@]}" \
  --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && printf "#!/bin/sh\nexit 0\n" > "$1/usr/sbin/update-initramfs" && chmod 0755 "$1/usr/sbin/update-initramfs"' \
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_Packages' \
  bookworm "$work/rootfs" "$mirror" >&2
echo "build-image: customizing" >&2
bash -x "$self" --customize "$work/rootfs" 2> "$work/customize.log" ||
  { tail -n 20 "$work/customize.log" >&2; exit 1; }

cp "$(ls "$work"/rootfs/boot/vmlinuz-* | head -n1)" "$work/vmlinuz"
mv "$work/rootfs/boot/hutch-initrd.img" "$work/initrd.img"
# 4 GiB, sparse: room for the tester's images and containers.
mkfs.ext4 -q -F -L hutch-root -d "$work/rootfs" "$work/rootfs.ext4" 4G >&2
rm -rf "$work/rootfs"
rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
echo "built $(date -u +%FT%TZ) in $(($(date +%s) - start)) s" > "$dir/ready"
echo "build-image: $dir ($(cat "$dir/ready"))" >&2
echo "$dir"
