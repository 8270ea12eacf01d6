#!/usr/bin/env bash
# Builds postmortemd's container image with buildah, offline (from scratch: no base image, no
# registry), then smoke-runs it.
#
#   deploy/image/build.sh [BINARY]
#
# BINARY: the postmortemd to put in the image; without it, `cargo build --release --locked`
# builds target/release/postmortemd. IMAGE names the result (default
# localhost/postmortemd:<version of Cargo.toml>). Run it as root; buildah's own settings apply
# (its default storage, or STORAGE_DRIVER=vfs where overlay mounts are refused).
#
# The image is the root filesystem of deploy/image/rootfs.sh (the one the Dockerfile's build
# stage makes too) in one layer, and the configuration below, which the Dockerfile's final stage
# repeats (tests/deploy.rs checks that the two agree).
#
# The smoke run starts a fresh container of the committed image with `buildah run --isolation
# chroot --network host` and checks: `--version` answers the version of Cargo.toml; `serve`
# with its store in the data folder answers /healthz and /readyz on a loopback port, runs as
# uid/gid 65532 and writes its database owned by them, and stops on SIGTERM with status 0.
set -euo pipefail

cd "$(dirname "$0")/../.."
started=$SECONDS

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
revision=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    revision="$revision-dirty"
fi
image=${IMAGE:-localhost/postmortemd:$version}

step() {
    echo "==> $*"
}
fail() {
    echo "build.sh: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "run as root: rootfs.sh sets owners and buildah uses the system's storage"

if [ "$#" -ge 1 ]; then
    binary=$1
else
    step "cargo build --release --locked"
    cargo build --release --locked
    binary=target/release/postmortemd
fi
built=$SECONDS

work=$(mktemp -d)
container=""
smoke=""
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    if [ -n "$smoke" ]; then buildah rm "$smoke" >/dev/null || true; fi
    if [ -n "$container" ]; then buildah rm "$container" >/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

step "rootfs.sh $work/rootfs $binary"
deploy/image/rootfs.sh "$work/rootfs" "$binary"
(cd "$work/rootfs" && find . -mindepth 1 \( -type f -o -type d \) -printf '%M %U:%G %10s  /%P\n' | sort -k4)

step "buildah from scratch; add the root filesystem as one layer"
# A tar keeps the owners rootfs.sh set (the data folder's 65532), as the Dockerfile's
# `COPY --from=build /rootfs /` does; `buildah copy` would make every file root's.
tar --numeric-owner --sort=name -C "$work/rootfs" -cf "$work/rootfs.tar" .
container=$(buildah from scratch)
buildah add "$container" "$work/rootfs.tar" / >/dev/null
buildah config \
    --user 65532:65532 \
    --workingdir /var/lib/postmortemd \
    --port 8080/tcp \
    --entrypoint '["/usr/local/bin/postmortemd"]' \
    --cmd '["serve", "--listen", "0.0.0.0:8080", "--store", "sqlite:///var/lib/postmortemd/postmortemd.db"]' \
    --label org.opencontainers.image.title=postmortemd \
    --label "org.opencontainers.image.description=Drafts incident timelines from Alertmanager and PagerDuty webhooks" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "$container"

step "buildah commit $image"
buildah commit --quiet --rm "$container" "$image" >/dev/null
container=""
assembled=$SECONDS

step "smoke: a fresh container of $image"
# What the image says: `buildah run` takes its user and working folder, not its entrypoint.
smoke=$(buildah from --pull=never "$image")
run=(buildah run --isolation chroot --network host "$smoke" --)
entrypoint=$(buildah inspect --format '{{index .OCIv1.Config.Entrypoint 0}}' "$image")
user=$(buildah inspect --format '{{.OCIv1.Config.User}}' "$image")
data=$(buildah inspect --format '{{.OCIv1.Config.WorkingDir}}' "$image")
[ "${user%%:*}" != 0 ] || fail "the image runs as root"

answer=$("${run[@]}" "$entrypoint" --version)
echo "$answer"
[ "$answer" = "postmortemd $version" ] || fail "--version answered \"$answer\", not postmortemd $version"

# Port 0: the kernel picks a free one, which the log's "Listening." line names.
log=$work/serve.log
"${run[@]}" "$entrypoint" serve --listen 127.0.0.1:0 --store "sqlite://$data/postmortemd.db" >"$log" 2>&1 &
server=$!
address=""
for _ in $(seq 100); do
    address=$(grep -o 'Listening.*127\.0\.0\.1:[0-9]*' "$log" | grep -o '127\.0\.0\.1:[0-9]*' || true)
    [ -n "$address" ] && break
    kill -0 "$server" 2>/dev/null || fail "serve exited: $(cat "$log")"
    sleep 0.1
done
[ -n "$address" ] || fail "serve did not listen within 10 s: $(cat "$log")"
for path in /healthz /readyz; do
    status=""
    for _ in $(seq 50); do
        status=$(curl -s -o /dev/null -w '%{http_code}' "http://$address$path" || true)
        [ "$status" = 200 ] && break
        sleep 0.1
    done
    echo "GET http://$address$path: $status"
    [ "$status" = 200 ] || fail "$path answered $status: $(cat "$log")"
done

# The process that listens is the daemon (chroot isolation shares the host's process and network
# namespaces): its credentials are read here, and SIGTERM goes straight to it.
pid=$(ss -ltnpH "sport = :${address##*:}" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
[ -n "$pid" ] || fail "no process listens on $address"
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
echo "serve runs as uid $uids, gid $gids (real, effective, saved, filesystem)"
uid=${user%%:*}
gid=${user##*:}
[ "$uids" = "$uid $uid $uid $uid" ] && [ "$gids" = "$gid $gid $gid $gid" ] || fail "serve does not run as $user"
kill -TERM "$pid"
status=0
wait "$server" || status=$?
server=""
[ "$status" = 0 ] || fail "serve exited with $status after SIGTERM: $(cat "$log")"
echo "serve stopped on SIGTERM with status 0"

mountpoint=$(buildah mount "$smoke")
owner=$(stat -c '%u:%g' "$mountpoint$data/postmortemd.db")
buildah umount "$smoke" >/dev/null
echo "$data/postmortemd.db is owned by $owner"
[ "$owner" = "$user" ] || fail "the database is owned by $owner, not $user"

step "image"
buildah images --format '{{.Name}}:{{.Tag}} {{.ID}} {{.Size}}' "$image"
echo "layer: $(buildah inspect --type image --format '{{range .OCIv1.RootFS.DiffIDs}}{{.}} {{end}}' "$image")(uncompressed $(du -b "$work/rootfs.tar" | cut -f1) bytes)"
echo "binary build $((built - started)) s, image $((assembled - built)) s, smoke $((SECONDS - assembled)) s"
