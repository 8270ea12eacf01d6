# syntax=docker/dockerfile:1
#
# postmortemd's container image, for Docker (or any BuildKit builder) where a registry is
# reachable: a release build on Debian 12, then an image from scratch that holds the root
# filesystem of deploy/image/rootfs.sh — the binary, the shared libraries it needs with the
# dynamic loader, the CA certificates, a `nonroot` user (uid/gid 65532, the uid
# deploy/kustomize's Deployment runs as), /tmp and the data folder /var/lib/postmortemd.
#
#   docker build -t registry.example.com/postmortemd:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#   docker run --rm -p 8080:8080 registry.example.com/postmortemd:0.1.0
#
# What is built where: deploy/image/build.sh builds the same image with buildah, from scratch,
# from the same rootfs.sh and the configuration below, and smoke-runs it (`--version`, `serve`
# answering /healthz and /readyz as uid 65532, HTTPS trusting the image's CA file); the
# project's environment runs it by hand, and docs/install.md records a run.
# This Dockerfile itself has not been built there: it needs the rust:1-bookworm image from a
# registry, which that environment cannot reach.
# tests/deploy.rs checks that this file and build.sh agree (the rootfs script, user, working
# folder, port, entrypoint, command, labels) and that they match the Deployment.

# --- build ---------------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when Cargo.toml or Cargo.lock
# change. Stub targets stand in for the sources (the manifest's [[bench]] targets must exist
# for cargo to read it).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/timeline.rs \
    && cp benches/timeline.rs benches/normalize.rs \
    && cargo build --release --locked \
    && rm -rf src benches target/release/.fingerprint/postmortemd-* target/release/deps/postmortemd-* \
        target/release/deps/libpostmortemd-*

# The sources. Their copied modification times may be older than the stub build's, so the
# stub's fingerprints are removed above rather than trusted to be stale. Then the root
# filesystem, assembled as build.sh assembles it (it copies this stage's libraries and CA file).
COPY src ./src
COPY benches ./benches
COPY deploy/image/rootfs.sh ./deploy/image/rootfs.sh
RUN cargo build --release --locked \
    && deploy/image/rootfs.sh /rootfs target/release/postmortemd

# --- runtime -------------------------------------------------------------------------------
# No shell, no package manager. SQLite is compiled into the binary (sqlx's bundled libsqlite3)
# and TLS is rustls with the system's roots (/etc/ssl/certs/ca-certificates.crt).
# COPY --from keeps the owners rootfs.sh set: the data folder is 65532's.
FROM scratch
COPY --from=build /rootfs /
USER 65532:65532
WORKDIR /var/lib/postmortemd
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/postmortemd"]
# Runnable on its own; deploy/kustomize passes `serve --config /etc/postmortemd/postmortemd.toml`
# instead. The store is on /var/lib/postmortemd: mount a volume there to keep it.
CMD ["serve", "--listen", "0.0.0.0:8080", "--store", "sqlite:///var/lib/postmortemd/postmortemd.db"]
ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="postmortemd" \
      org.opencontainers.image.description="Drafts incident timelines from Alertmanager and PagerDuty webhooks" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
