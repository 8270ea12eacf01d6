# syntax=docker/dockerfile:1
#
# postmortemd's container image: a static-ish release build on Debian 12, run as the
# distroless `nonroot` user (uid 65532, the uid deploy/kustomize's Deployment runs as).
#
#   docker build -t registry.example.com/postmortemd:0.1.0 .
#   docker run --rm -p 8080:8080 registry.example.com/postmortemd:0.1.0
#
# NB: never built in the environment this file was written in (no image registry is reachable
# there, so neither base image can be pulled); it is kept correct by reading. Build it once
# before relying on it.

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
# stub's fingerprints are removed above rather than trusted to be stale. /out also gets the
# data folder, owned by nonroot, for runs without a mounted volume.
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked \
    && install -D -m 0755 target/release/postmortemd /out/postmortemd \
    && install -d -m 0750 -o 65532 -g 65532 /out/var/lib/postmortemd

# --- runtime -------------------------------------------------------------------------------
# glibc and libgcc, no shell, no package manager. SQLite is compiled into the binary (sqlx's
# bundled libsqlite3) and TLS is rustls, so nothing else is needed.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/postmortemd /postmortemd
COPY --from=build --chown=65532:65532 /out/var/lib/postmortemd /var/lib/postmortemd
USER nonroot
WORKDIR /var/lib/postmortemd
EXPOSE 8080
ENTRYPOINT ["/postmortemd"]
# Runnable on its own; deploy/kustomize passes `serve --config /etc/postmortemd/postmortemd.toml`
# instead. The store is on /var/lib/postmortemd: mount a volume there to keep it.
CMD ["serve", "--listen", "0.0.0.0:8080", "--store", "sqlite:///var/lib/postmortemd/postmortemd.db"]
