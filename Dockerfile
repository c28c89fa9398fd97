# smm-storefront: build the release binary, ship it on a small Debian base as a non-root user.

# ---- build ----
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /build

# Dependencies first, against placeholder sources: this slow layer is reused until
# Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

# The real sources. locales/ is compiled into the binary by rust-i18n.
COPY locales ./locales
COPY src ./src
# COPY keeps the files' old timestamps; touch them so cargo does not reuse the placeholder build.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && strip target/release/smm-storefront

# ---- run ----
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid, so a host folder mounted on /data can be given to it: chown 10001:10001.
RUN groupadd --system --gid 10001 smm \
    && useradd --system --uid 10001 --gid smm --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin smm \
    && mkdir -p /data \
    && chown smm:smm /data \
    && chmod 700 /data

COPY --from=builder /build/target/release/smm-storefront /usr/local/bin/smm-storefront

ENV DATA_DIR=/data
# Declared after the chown so a new named volume starts out owned by smm.
VOLUME /data
WORKDIR /data
USER smm

# The bot stops polling, finishes in-flight work and flushes the database on SIGTERM.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/smm-storefront"]
CMD ["run"]
