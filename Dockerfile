# syntax=docker/dockerfile:1
# Keyward's container image. Built from source in the Rust image, run from a distroless one: no
# shell and no package manager at run time, a non-root user, the data directory a volume, and a
# HEALTHCHECK that is the binary itself (`keyward healthcheck` asks its own /healthz).
#   docker build -t keyward .
#   docker run -p 127.0.0.1:50051:50051 -v keyward-data:/var/lib/keyward keyward
# compose.yaml runs it on PostgreSQL. What CI checks of this file and what it does not: see
# docs/install.md ("Container").

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# protoc comes from the protoc-bin-vendored crate: nothing to install.
COPY . .
RUN cargo build --locked --release --bin keyward \
    && install -D -m 0755 target/release/keyward /out/usr/bin/keyward \
    && install -D -m 0644 packaging/keyward.toml /out/etc/keyward/keyward.toml \
    && install -d -m 0700 -o 65532 -g 65532 /out/var/lib/keyward

# glibc and libgcc, which the binary links, and nothing else; runs as nonroot (65532).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /
USER 65532:65532
# The SQLite database and the generated master key (SQLite default), or mail written as files.
VOLUME ["/var/lib/keyward"]
# The packaged configuration listens on 127.0.0.1; in a container it must take connections from
# outside the container's own loopback.
ENV KEYWARD_LISTEN=0.0.0.0:50051
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/bin/keyward", "healthcheck", "--config", "/etc/keyward/keyward.toml"]
ENTRYPOINT ["/usr/bin/keyward"]
CMD ["serve", "--config", "/etc/keyward/keyward.toml"]
