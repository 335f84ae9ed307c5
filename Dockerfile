# Build stage: the same toolchain as rust-version in Cargo.toml.
FROM rust:1.95-slim-bookworm AS build
# jemalloc (the binary's allocator) is built from C with make.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
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
# The bot asks its own /healthz (database reachable and writable); no curl needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/sora-bot", "healthcheck"]
# Stop grace: on SIGTERM the bot takes no new updates but lets a create call in
# flight finish, which may take VIDEO_API_TIMEOUT_SECS (60 s by default), then
# sends the queued replies (up to 10 s). Docker's default of 10 s kills it in the
# middle: the video is made and paid for, and its outcome becomes unknown. Give
# it more than VIDEO_API_TIMEOUT_SECS + 10 s:
#   docker stop -t 75 <container>     docker run --stop-timeout 75 ...
#   compose: stop_grace_period: 75s   Kubernetes: terminationGracePeriodSeconds: 75
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sora-bot"]
