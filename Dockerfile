# Build stage: the same toolchain as rust-version in Cargo.toml.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# SQLite's build flags (the features left out of the bundled library).
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
# A workspace member (dev-only test kit): cargo needs its manifest to resolve the workspace.
COPY testkit ./testkit
RUN cargo build --release --locked --bin sora-bot

# Runtime: small, no shell tools needed, non-root, no secrets baked in
# (configuration comes from the environment at run time).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home sora
COPY --from=build /src/target/release/sora-bot /usr/local/bin/sora-bot
USER sora
WORKDIR /data
ENV DATABASE_URL=sqlite:///data/sora-bot.db \
    HTTP_BIND=0.0.0.0:8080
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/sora-bot"]
