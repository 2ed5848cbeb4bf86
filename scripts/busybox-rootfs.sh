#!/usr/bin/env bash
# Makes a tiny base-image root filesystem tarball from Debian's busybox-static, so examples
# and tests have a base image without any registry: `tsbuild image import OUT.tar busybox:latest`.
#   usage: scripts/busybox-rootfs.sh OUT.tar
set -euo pipefail
out="${1:?usage: $0 OUT.tar}"
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }
root="$(mktemp -d)"
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home/app,var,proc,sys,dev}
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s /bin/busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > "$root/etc/group" <<'GR'
root:x:0:
app:x:1000:
staff:x:50:app
nogroup:x:65534:
GR
chown 1000:1000 "$root/home/app"
# Fixed mtimes and sorted entries: the same busybox gives the same tarball.
tar --sort=name --mtime='2024-01-01 00:00:00Z' --numeric-owner -C "$root" -cf "$out" .
