#!/usr/bin/env bash
# Builds postmortemd's container image with buildah, offline (from scratch: no base image, no
# registry), then smoke-runs it.
#
#   deploy/image/build.sh [BINARY]
#
# BINARY: the postmortemd to put in the image; without it, `cargo build --release --locked`
# builds target/release/postmortemd. IMAGE names the result (default
# localhost/postmortemd:<version of Cargo.toml>). Run it as root. The image goes to buildah's
# default storage; where overlay mounts are refused, point CONTAINERS_STORAGE_CONF at a
# storage.conf with `driver = "vfs"` (buildah 1.28 ignores STORAGE_DRIVER).
#
# The image is the root filesystem of deploy/image/rootfs.sh (the one the Dockerfile's build
# stage makes too) in one layer, and the configuration below, which the Dockerfile's final stage
# repeats (tests/deploy.rs checks that the two agree).
#
# The smoke run starts a fresh container of the committed image with `buildah run --isolation
# chroot --network host` and checks: `--version` answers the version of Cargo.toml; `serve`
# with its store in the data folder answers /healthz and /readyz on a loopback port, runs as
# uid/gid 65532 and writes its database owned by them, and stops on SIGTERM with status 0;
# its HTTPS client (Prometheus, here an `openssl s_server`) refuses a certificate whose CA is
# not in the image's /etc/ssl/certs/ca-certificates.crt and trusts it once the CA is added there.
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
tls_server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    if [ -n "$tls_server" ]; then kill "$tls_server" 2>/dev/null || true; fi
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
# Until "$@" succeeds, for at most 30 s.
wait_for() {
    local what=$1
    shift
    for _ in $(seq 300); do
        "$@" && return 0
        sleep 0.1
    done
    fail "no $what within 30 s"
}

# An HTTPS server for the TLS check, with a certificate for 127.0.0.1 from a throwaway CA.
# openssl s_server logs what a client does: an "unknown ca" alert when it refuses the
# certificate, the request when it trusts it. It quits at the end of its input, so its input
# is a FIFO that this script holds open (fd 3).
tls=$work/tls
mkdir "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=postmortemd-smoke-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
openssl x509 -req -days 1 -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null
mkfifo "$tls/input"
openssl s_server -accept 127.0.0.1:0 -cert "$tls/server.crt" -key "$tls/server.key" <"$tls/input" >"$tls/log" 2>&1 &
tls_server=$!
exec 3>"$tls/input"
wait_for "port from openssl s_server" grep -q '^ACCEPT ' "$tls/log"
tls_url=https://$(grep -o '^ACCEPT .*' "$tls/log" | cut -d' ' -f2)

# What the image says: `buildah run` takes its user and working folder, not its entrypoint.
smoke=$(buildah from --pull=never "$image")
run=(buildah run --isolation chroot --network host --env "POSTMORTEMD_PROMETHEUS__URL=$tls_url" "$smoke" --)
entrypoint=$(buildah inspect --format '{{index .OCIv1.Config.Entrypoint 0}}' "$image")
user=$(buildah inspect --format '{{.OCIv1.Config.User}}' "$image")
data=$(buildah inspect --format '{{.OCIv1.Config.WorkingDir}}' "$image")
uid=${user%%:*}
gid=${user##*:}
[ "$uid" != 0 ] || fail "the image runs as root"

answer=$("${run[@]}" "$entrypoint" --version 2>"$work/version.err")
echo "$answer"
[ "$answer" = "postmortemd $version" ] ||
    fail "--version answered \"$answer\", not postmortemd $version; buildah run said: $(cat "$work/version.err")"

# Starts serve in the smoke container, its store in the data folder, on a free loopback port
# (port 0: the kernel picks one, which the log's "Listening." line names), and sets `address`,
# and `pid` to the daemon's process: chroot isolation shares the host's process and network
# namespaces, so the process that listens is the daemon itself.
start_serve() {
    log=$work/serve-$1.log
    "${run[@]}" "$entrypoint" serve --listen 127.0.0.1:0 --store "sqlite://$data/postmortemd.db" >"$log" 2>&1 &
    server=$!
    wait_for "Listening. line from serve" grep -q 'Listening.*127\.0\.0\.1:[0-9]' "$log"
    address=$(grep -o 'Listening.*127\.0\.0\.1:[0-9]*' "$log" | grep -o '127\.0\.0\.1:[0-9]*')
    pid=$(ss -ltnpH "sport = :${address##*:}" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
    [ -n "$pid" ] || fail "no process listens on $address"
}

# SIGTERM straight to the daemon; it must exit with status 0.
stop_serve() {
    kill -TERM "$pid"
    local status=0
    wait "$server" || status=$?
    server=""
    [ "$status" = 0 ] || fail "serve exited with $status after SIGTERM: $(cat "$log")"
    echo "serve stopped on SIGTERM with status 0"
}

# An Alertmanager notification whose alert names the expression `up`: collecting its incident
# asks Prometheus (the TLS server) for that alert's rule and series.
post_alert() {
    local now
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    curl -sS --fail-with-body -o /dev/null -H 'Content-Type: application/json' "http://$address/webhooks/alertmanager" \
        --data "{\"version\": \"4\", \"groupKey\": \"$1\", \"status\": \"firing\", \"receiver\": \"smoke\",
          \"groupLabels\": {\"alertname\": \"$1\"}, \"commonLabels\": {\"alertname\": \"$1\"}, \"commonAnnotations\": {},
          \"externalURL\": \"http://alertmanager.invalid\", \"truncatedAlerts\": 0,
          \"alerts\": [{\"status\": \"firing\", \"labels\": {\"alertname\": \"$1\"}, \"annotations\": {},
            \"startsAt\": \"$now\", \"endsAt\": \"0001-01-01T00:00:00Z\", \"fingerprint\": \"$1\",
            \"generatorURL\": \"http://prometheus.invalid/graph?g0.expr=up&g0.tab=1\"}]}" ||
        fail "the webhook was refused: $(cat "$log")"
}

start_serve 1
for path in /healthz /readyz; do
    status=$(curl -s -o /dev/null -w '%{http_code}' "http://$address$path" || true)
    echo "GET http://$address$path: $status"
    [ "$status" = 200 ] || fail "$path answered $status: $(cat "$log")"
done
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
echo "serve runs as uid $uids, gid $gids (real, effective, saved, filesystem)"
[ "$uids" = "$uid $uid $uid $uid" ] && [ "$gids" = "$gid $gid $gid $gid" ] || fail "serve does not run as $user"
# TLS verification is on: the image's CA file does not hold the throwaway CA.
post_alert smoke-untrusted
wait_for "refusal of the throwaway CA's certificate" grep -q 'alert unknown ca' "$tls/log"
echo "HTTPS to $tls_url (a CA the image does not hold): refused, unknown ca"
stop_serve

mountpoint=$(buildah mount "$smoke")
owner=$(stat -c '%u:%g' "$mountpoint$data/postmortemd.db")
echo "$data/postmortemd.db is owned by $owner"
[ "$owner" = "$user" ] || fail "the database is owned by $owner, not $user"
# The roots are read from the image's CA file: with the throwaway CA added to it (in this smoke
# container only), the same server is trusted.
cat "$tls/ca.crt" >>"$mountpoint/etc/ssl/certs/ca-certificates.crt"
buildah umount "$smoke" >/dev/null

start_serve 2
post_alert smoke-trusted
wait_for "request over HTTPS" grep -q '^GET /api/v1/' "$tls/log"
echo "HTTPS to $tls_url with its CA in /etc/ssl/certs/ca-certificates.crt: $(grep -m 1 '^GET /api/v1/' "$tls/log" | cut -d'?' -f1)"
# The request waits for an answer s_server never sends: end the server first, so serve stops at once.
exec 3>&-
kill "$tls_server"
wait "$tls_server" || true
tls_server=""
stop_serve

step "image"
buildah images --format '{{.Name}}:{{.Tag}} {{.ID}} {{.Size}}' "$image"
echo "layer: $(buildah inspect --type image --format '{{range .OCIv1.RootFS.DiffIDs}}{{.}} {{end}}' "$image")(uncompressed $(du -b "$work/rootfs.tar" | cut -f1) bytes)"
echo "binary build $((built - started)) s, image $((assembled - built)) s, smoke $((SECONDS - assembled)) s"
