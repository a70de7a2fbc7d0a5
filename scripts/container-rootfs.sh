#!/usr/bin/env bash
# Assembles dist/rootfs/, the whole file system of Portico's `FROM scratch` image (Dockerfile):
#
#   /portico                     the `bun build --compile` executable (dist/portico-linux-x64)
#   /lib*/...                    the shared libraries `ldd` lists for it, at the same paths
#   /etc/passwd, /etc/group      root and nobody (65534:65534), the user the image runs as
#   /etc/nsswitch.conf           hosts from /etc/hosts, then DNS, for upstreams given by name
#   /tmp                         mode 1777
#
# and dist/portico-etc/, copied to /etc/portico owned by the image's user (Dockerfile), so its
# private keys can be 0600 (Portico warns about a key others can read):
#   routes.yaml, certs/          the bundled demo config and the gateway's certificates, as baked
#                                defaults (mount over them: -v "$PWD/certs:/etc/portico/certs:ro")
#
# No base image is needed (none can be pulled here), so the build context is this directory and
# `.dockerignore` keeps everything else out of it.
#
# usage: scripts/container-rootfs.sh [path/to/portico-linux-x64]
#   builds the executable first (bun build.ts --only linux-x64) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-dist/portico-linux-x64}
ROOTFS=dist/rootfs

if [ ! -x "$BIN" ]; then
  if [ $# -gt 0 ]; then echo "container-rootfs: $BIN is not an executable" >&2; exit 1; fi
  echo "container-rootfs: $BIN is missing, building it" >&2
  BUN=$(command -v bun || echo node_modules/.bin/bun)
  "$BUN" build.ts --only linux-x64 >&2
fi

ETC=dist/portico-etc
rm -rf "$ROOTFS" "$ETC"
mkdir -p "$ROOTFS"/{etc/portico,tmp} "$ETC"
install -m 0755 "$BIN" "$ROOTFS/portico"

# Shared libraries: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and the loader
# "/lib64/ld-linux-x86-64.so.2 (0x...)". Each is copied (symlinks resolved) to the path the
# executable asks for.
ldd_out=$(ldd "$BIN")
if grep -q "not found" <<<"$ldd_out"; then
  echo "container-rootfs: ldd $BIN: a library is missing:" >&2
  echo "$ldd_out" >&2
  exit 1
fi
libs=$(awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$ldd_out")
for lib in $libs; do
  mkdir -p "$ROOTFS$(dirname "$lib")"
  cp -L "$lib" "$ROOTFS$lib"
  chmod 0755 "$ROOTFS$lib"
done

cat >"$ROOTFS/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
PASSWD
cat >"$ROOTFS/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo "hosts: files dns" >"$ROOTFS/etc/nsswitch.conf"
chmod 0644 "$ROOTFS"/etc/{passwd,group,nsswitch.conf}
chmod 1777 "$ROOTFS/tmp"

# The bundled config and the gateway's own certificates (certs/clients holds a client's key for
# curl, not something the gateway needs). Credentials in routes.yaml are relative to its folder.
cp routes.yaml "$ETC/routes.yaml"
mkdir -p "$ETC/certs"
# certs/generated (a set made by `portico certs gen`, with its CAs' keys) stays out too.
for f in certs/*; do
  case "$(basename "$f")" in clients | generated) continue ;; esac
  cp -R "$f" "$ETC/certs/"
done
# The Dockerfile copies this folder owned by the image's user (65534): keys for it alone.
find "$ETC" -type d -exec chmod 0755 {} +
find "$ETC" -type f -exec chmod 0644 {} +
find "$ETC" -type f \( -name '*.key' -o -name '*key.pem' \) -exec chmod 0600 {} +

echo "container-rootfs: $ROOTFS assembled ($(du -sh "$ROOTFS" | cut -f1)):" >&2
(cd "$ROOTFS" && find . -mindepth 1 \( -type f -o -type l \) -printf '  /%P %s\n' | sort) >&2
