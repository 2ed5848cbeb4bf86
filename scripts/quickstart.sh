#!/usr/bin/env bash
# Quick start on a fresh Debian 12 machine: install what tsbuild needs, build tsbuild, make a
# busybox base image (no registry needed), build fixtures/hello with it, and run the result
# with podman.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# RUN steps need root (namespaces, overlay mounts): run tsbuild and podman through this.
as_root() { if [ -z "$SUDO" ]; then "$@"; else sudo -E "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
need=()
# gcc, libc6-dev and libseccomp-dev build tsbuild-sandbox-exec, which starts RUN steps faster than runc.
for p in nodejs npm runc gcc libc6-dev libseccomp-dev attr busybox-static podman skopeo; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || command -v "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
npm ci --no-audit --no-fund

work="$(mktemp -d)"
export TSBUILD_ROOT="$work/state"
trap 'rm -rf "$work"' EXIT
echo "== base image: busybox from Debian's busybox-static"
bash scripts/busybox-rootfs.sh "$work/busybox.tar"
as_root npx tsbuild image import "$work/busybox.tar" busybox:latest

echo "== tsbuild build -t hello fixtures/hello"
as_root npx tsbuild build --progress=plain -t hello:latest -o "type=docker,dest=$work/hello.tar" fixtures/hello

echo "== podman load + run"
cat > "$work/containers.conf" <<CONF
[containers]
netns = "none"
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
printf '[storage]\ndriver = "overlay"\nrunroot = "%s/run"\ngraphroot = "%s/storage"\n' "$work" "$work" > "$work/storage.conf"
export CONTAINERS_CONF="$work/containers.conf" CONTAINERS_STORAGE_CONF="$work/storage.conf"
as_root podman load -q -i "$work/hello.tar" >/dev/null
as_root podman run --rm hello:latest
as_root podman rmi -f hello:latest >/dev/null
