# syntax=docker/dockerfile:1.7
#
# The `ledgerstream` binary on a slim Debian, for docker-compose.yml.
#   docker build -t ledgerstream:local .
# Needs BuildKit (the default builder of current Docker) for the cache mounts.

# --- build -------------------------------------------------------------------------
FROM rust:1.91-bookworm AS builder

# rdkafka builds its bundled librdkafka with ./configure and make, against the system
# OpenSSL (the `ssl` feature) and zlib.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config libssl-dev zlib1g-dev perl python3 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The registry and target caches survive between builds, so a source change does not
# rebuild librdkafka. The target cache is not part of the image: the binary is copied
# out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ledgerstream \
 && install -D -m 0755 target/release/ledgerstream /out/bin/ledgerstream

# What the binary reads at run time: the Avro schemas and the ClickHouse DDL.
RUN mkdir -p /out/share/ledgerstream/schemas /out/share/ledgerstream/clickhouse \
 && find schemas -name '*.avsc' -exec cp --parents {} /out/share/ledgerstream/ \; \
 && if [ -d infra/clickhouse ]; then cp -R infra/clickhouse/. /out/share/ledgerstream/clickhouse/; fi

# --- run ---------------------------------------------------------------------------
FROM debian:bookworm-20241111-slim AS runtime

# curl is for the compose healthchecks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g curl \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system ledgerstream \
 && useradd --system --gid ledgerstream --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin ledgerstream

COPY --from=builder /out/bin/ledgerstream /usr/local/bin/ledgerstream
COPY --from=builder /out/share/ledgerstream /usr/share/ledgerstream

USER ledgerstream
WORKDIR /usr/share/ledgerstream

# Metrics and /health of process, project and lag --serve.
EXPOSE 9601 9602 9603

ENTRYPOINT []
CMD ["ledgerstream", "--help"]
