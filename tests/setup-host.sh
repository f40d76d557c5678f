#!/usr/bin/env bash
# Prepares a Debian or Ubuntu host the way a distribution ships it, for
# hutch's first use and its tests. Run as root; safe to run again.
#   - the programs hutch drives, from the distribution's packages
#   - qemu and mmdebstrap for the systemd host tier (tests/host/)
#   - hutch-test: an unprivileged user with subordinate uid/gid ranges
#   - hutch-nosub: an unprivileged user without any (the HPC case)
#   - hutch-migrate: a user whose ranges a test changes
#   - /dev/fuse and /dev/net/tun mode 0666, as distributions ship them
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "tests/setup-host.sh must run as root (try: sudo $0)" >&2
  exit 1
fi

packages=(uidmap crun runc passt slirp4netns fuse-overlayfs catatonit busybox-static
          docker-registry apache2-utils iperf3 procps iproute2 ca-certificates curl
          qemu-system-x86 mmdebstrap e2fsprogs hyperfine podman
          docker.io docker-compose python3-pip openssh-server openssh-client
          nftables criu gnupg)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-host: installing ${missing[*]}"
  apt-get update -qq
  # policy-rc.d keeps package scripts from starting services (docker-registry)
  # on hosts without an init system; tests start their own registry.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

# docker.io is here for its client (the REST API's tests drive it against
# hutch): its daemon must not run. policy-rc.d kept the package from
# starting it; a host whose init started it anyway gets it stopped.
if command -v systemctl >/dev/null && systemctl is-active -q docker.service docker.socket 2>/dev/null; then
  systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
fi
if [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  echo "setup-host: stopping dockerd (the tests need only the docker client)"
  kill "$(cat /var/run/docker.pid)" || true
fi

# The REST API's Python clients, from PyPI (Debian 12 has docker-py 5 only),
# for the system's python3 (the one the test user runs): the Docker SDK 7.x
# and podman-compose. Debian's docker-compose 1.29 needs Debian's docker-py
# 5, so its tests run it with PYTHONPATH=/usr/lib/python3/dist-packages
# ahead of the SDK installed here.
py=/usr/bin/python3
pip_install() {
  local check=$1 spec=$2
  if ! "$py" -c "$check" 2>/dev/null; then
    echo "setup-host: pip install $spec"
    "$py" -m pip install -q --break-system-packages "$spec" >/dev/null
  fi
}
pip_install 'import docker; assert docker.__version__.startswith("7.")' 'docker>=7,<8'
pip_install 'import podman_compose' podman-compose
# kube generate's output is checked against Kubernetes' OpenAPI schemas,
# offline (the package ships them for many Kubernetes versions).
pip_install 'import kubernetes_validate' kubernetes-validate
"$py" -c 'import docker; assert docker.__version__.startswith("7.")' ||
  echo "setup-host: warning: $py does not import the docker SDK 7.x" >&2

add_user() {
  local name=$1
  id -u "$name" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$name"
}
add_user hutch-test
add_user hutch-nosub
add_user hutch-migrate

# Ranges of 65536 ids, away from ranges useradd may have handed out itself.
ensure_range() {
  local file=$1 name=$2 start=$3
  sed -i "/^$name:/d" "$file"
  echo "$name:$start:65536" >> "$file"
}
touch /etc/subuid /etc/subgid
ensure_range /etc/subuid hutch-test 300000
ensure_range /etc/subgid hutch-test 300000
sed -i '/^hutch-nosub:/d' /etc/subuid /etc/subgid
# hutch-migrate's ranges are rewritten by the test of automatic re-creation.
ensure_range /etc/subuid hutch-migrate 400000
ensure_range /etc/subgid hutch-migrate 400000

if [ ! -e /dev/net/tun ]; then
  mkdir -p /dev/net
  mknod /dev/net/tun c 10 200
fi
[ -e /dev/fuse ] || mknod /dev/fuse c 10 229
chmod 0666 /dev/fuse /dev/net/tun

# Hybrid cgroup hosts (v1 controllers plus /sys/fs/cgroup/unified): crun 1.8
# refuses to run while a controller is attached to the v2 hierarchy. Hybrid
# distributions mount hugetlb as a v1 hierarchy like every other controller;
# do the same when it is left in the unified one and nothing uses it there.
unified=/sys/fs/cgroup/unified
if [ -r "$unified/cgroup.controllers" ] && grep -qw hugetlb "$unified/cgroup.controllers" &&
   ! grep -qw hugetlb "$unified/cgroup.subtree_control" 2>/dev/null; then
  mkdir -p /sys/fs/cgroup/hugetlb
  mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb &&
    echo "setup-host: hugetlb mounted as a v1 hierarchy (crun refuses it in the unified one)"
fi
echo "setup-host: ready (users hutch-test, hutch-nosub, hutch-migrate)"
