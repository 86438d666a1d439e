# Build stage: compile the release binary with the locked dependency set.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY openapi.yaml ./
RUN cargo build --release --locked && strip target/release/property-contacts

# Runtime stage: a slim image, an unprivileged user, data under /data.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home app
COPY --from=build /src/target/release/property-contacts /usr/local/bin/property-contacts
USER app
WORKDIR /data
ENV LISTEN_ADDR=0.0.0.0:8080 \
    DATABASE_URL=sqlite:/data/property-contacts.db
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/livez || exit 1
ENTRYPOINT ["property-contacts"]
CMD ["serve"]
