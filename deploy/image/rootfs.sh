#!/usr/bin/env bash
# Assembles the root filesystem of postmortemd's image: everything the image holds, and nothing else.
#
#   deploy/image/rootfs.sh OUT_DIR BINARY
#
# Both image builds use it, so they hold the same layout: deploy/image/build.sh (buildah, run
# by hand here) and the Dockerfile's build stage (`COPY --from=build /rootfs /`).
# Run it as root (it sets owners) on the system that built BINARY: the shared libraries are
# copied from there.
#
# OUT_DIR gets:
#   /usr/local/bin/postmortemd        BINARY
#   the shared libraries BINARY needs and the dynamic loader, at the paths ldd names
#   /etc/ssl/certs/ca-certificates.crt  the CA certificates (rustls reads the system store
#                                       through rustls-native-certs, whose first Linux
#                                       candidate is this file)
#   /etc/passwd, /etc/group           root and nonroot (uid/gid 65532, the Deployment's runAsUser)
#   /etc/nsswitch.conf                hosts from files, then DNS (glibc's default without this
#                                     file asks DNS first)
#   /tmp                              1777
#   /var/lib/postmortemd              the data folder, 0750, owned by 65532:65532
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 OUT_DIR BINARY" >&2
    exit 2
fi
out=$1
binary=$2
# The uid the image runs as; tests/deploy.rs checks it against the Deployment's runAsUser.
nonroot=65532
ca_file=/etc/ssl/certs/ca-certificates.crt

fail() {
    echo "rootfs.sh: $*" >&2
    exit 1
}

[ -f "$binary" ] && [ -x "$binary" ] || fail "$binary is not an executable file"
[ -s "$ca_file" ] || fail "$ca_file is missing or empty (install the ca-certificates package)"
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
    fail "$out is not empty: give a new or empty folder, so nothing stale goes into the image"
fi

umask 022
mkdir -p "$out"
install -D -m 0755 "$binary" "$out/usr/local/bin/postmortemd"

# The loader and every library, where the loader looks for them: `libc.so.6 => /lib/... (0x…)`
# lines give a library's path, a line that starts with a path (`/lib64/ld-linux-x86-64.so.2
# (0x…)`) is the loader itself, and linux-vdso has no file. A static binary needs none.
libraries=$(ldd "$binary" 2>&1) || true
if grep -q 'not found' <<<"$libraries"; then
    fail "ldd cannot resolve every library of $binary:
$libraries"
fi
if ! grep -q -e 'not a dynamic executable' -e 'statically linked' <<<"$libraries"; then
    paths=$(sed -n -e 's/^[[:space:]]*[^[:space:]]* => \(\/[^[:space:]]*\) (0x[0-9a-f]*)$/\1/p' \
        -e 's/^[[:space:]]*\(\/[^[:space:]]*\) (0x[0-9a-f]*)$/\1/p' <<<"$libraries")
    [ -n "$paths" ] || fail "no library paths in ldd's output:
$libraries"
    for path in $paths; do
        mkdir -p "$out$(dirname "$path")"
        # -L: the file behind a symlink (libc.so.6 -> libc-2.36.so on older systems), at the name asked for.
        cp -L --preserve=mode "$path" "$out$path"
    done
fi

install -D -m 0644 "$ca_file" "$out$ca_file"

mkdir -p "$out/etc"
cat >"$out/etc/passwd" <<EOF
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:$nonroot:$nonroot:nonroot:/var/lib/postmortemd:/sbin/nologin
EOF
cat >"$out/etc/group" <<EOF
root:x:0:
nonroot:x:$nonroot:
EOF
cat >"$out/etc/nsswitch.conf" <<EOF
passwd: files
group: files
hosts: files dns
EOF
chmod 0644 "$out/etc/passwd" "$out/etc/group" "$out/etc/nsswitch.conf"

install -d -m 1777 "$out/tmp"
install -d -m 0750 -o "$nonroot" -g "$nonroot" "$out/var/lib/postmortemd"
