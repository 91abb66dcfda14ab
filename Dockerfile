# Baton's three executables in one image: baton-worker, baton-server and batonctl.
#   docker build -t baton .
#   docker compose up -d            # postgres, migrate, worker, server (see docker-compose.yml)

# ---- build: Swift's official image, a release build of the three products
FROM swift:6.1-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY sql ./sql
COPY openapi.yaml ./
RUN swift build -c release --static-swift-stdlib --product baton-worker \
 && swift build -c release --static-swift-stdlib --product baton-server \
 && swift build -c release --static-swift-stdlib --product batonctl \
 && mkdir -p /out \
 && cp "$(swift build -c release --show-bin-path)"/baton-worker "$(swift build -c release --show-bin-path)"/baton-server "$(swift build -c release --show-bin-path)"/batonctl /out/

# ---- runtime: slim Debian with libpq, running as an unprivileged user
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq5 ca-certificates tzdata curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin baton
COPY --from=build /out/ /usr/local/bin/
COPY examples /usr/share/baton/examples
COPY openapi.yaml /usr/share/baton/openapi.yaml
USER baton
ENV BATON_LISTEN=0.0.0.0:8080
EXPOSE 8080 9090
CMD ["baton-worker"]
