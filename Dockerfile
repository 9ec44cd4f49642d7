# The ragops worker: Node.js, pg_dump/pg_restore of PostgreSQL 15, 16 and 17 (the worker runs the
# ones of the server's major, from /usr/lib/postgresql/<major>/bin), kubectl, the docker CLI with
# Compose, redis-cli and sqlite3; as user 10001, with /healthz on :8080 and metrics on :9464.
#
#   docker build -t ragops-worker .
#
# The base is any Debian-based image with Node.js >= 20.3 and npm on PATH.
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE}

# Where the tools outside Debian's archive come from:
#   upstream (default): the PGDG apt repository (postgresql-client-<major> for each of PG_MAJORS),
#     Docker's (docker-ce-cli, docker-compose-plugin) and Kubernetes' (kubectl of KUBERNETES_MINOR).
#   debian: Debian's archive only: its own PostgreSQL client major (15 on bookworm) and
#     docker-compose (v1); plus the build context's image-tools/: .deb files (installed with their
#     dependencies) and binaries in image-tools/bin/ (docker, kubectl) copied to /usr/local/bin.
#     For builds that reach no upstream repository (test/worker-image.test.ts builds it so).
# Either way, image-tools/ca-certificates/*.crt (e.g. a TLS-intercepting proxy's CA, or the CA of
# a private S3 endpoint) join the system's trust store, which Node.js reads too (NODE_EXTRA_CA_CERTS).
ARG TOOLS_FROM=upstream
ARG PG_MAJORS="15 16 17"
ARG KUBERNETES_MINOR=v1.32

# package.json only keeps this COPY valid when the context has no image-tools/.
COPY package.json image-tools* /tmp/image-tools/
RUN set -eu; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates; \
    if [ -d /tmp/image-tools/ca-certificates ]; then \
      cp /tmp/image-tools/ca-certificates/*.crt /usr/local/share/ca-certificates/; update-ca-certificates; \
    fi; \
    case "$TOOLS_FROM" in \
      upstream) \
        apt-get install -y --no-install-recommends curl; \
        codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"; \
        install -d -m 0755 /etc/apt/keyrings; \
        curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc -o /etc/apt/keyrings/pgdg.asc; \
        curl -fsSL https://download.docker.com/linux/debian/gpg -o /etc/apt/keyrings/docker.asc; \
        curl -fsSL "https://pkgs.k8s.io/core:/stable:/${KUBERNETES_MINOR}/deb/Release.key" -o /etc/apt/keyrings/kubernetes.asc; \
        echo "deb [signed-by=/etc/apt/keyrings/pgdg.asc] https://apt.postgresql.org/pub/repos/apt ${codename}-pgdg main" >/etc/apt/sources.list.d/pgdg.list; \
        echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian ${codename} stable" >/etc/apt/sources.list.d/docker.list; \
        echo "deb [signed-by=/etc/apt/keyrings/kubernetes.asc] https://pkgs.k8s.io/core:/stable:/${KUBERNETES_MINOR}/deb/ /" >/etc/apt/sources.list.d/kubernetes.list; \
        apt-get update; \
        apt-get install -y --no-install-recommends \
          $(for major in $PG_MAJORS; do echo "postgresql-client-$major"; done) \
          docker-ce-cli docker-compose-plugin kubectl redis-tools sqlite3; \
        apt-get purge -y --auto-remove curl ;; \
      debian) \
        apt-get install -y --no-install-recommends postgresql-client docker-compose redis-tools sqlite3 \
          $(find /tmp/image-tools -maxdepth 1 -name '*.deb'); \
        if [ -d /tmp/image-tools/bin ]; then install -m 0755 /tmp/image-tools/bin/* /usr/local/bin/; fi ;; \
      *) echo "TOOLS_FROM must be upstream or debian, not '$TOOLS_FROM'" >&2; exit 2 ;; \
    esac; \
    rm -rf /var/lib/apt/lists/* /tmp/image-tools; \
    groupadd --gid 10001 ragops; \
    useradd --uid 10001 --gid ragops --home-dir /home/ragops --create-home --shell /usr/sbin/nologin ragops

WORKDIR /app
ENV NODE_ENV=production \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
RUN ln -s /app/bin/ragops.mjs /usr/local/bin/ragops

# GET /healthz answers 200 while the worker polls its task queue; Prometheus metrics (the SDK's
# and ragops's) on the other port. Set either to an empty value to turn it off.
ENV RAGOPS_HEALTH_ADDRESS=0.0.0.0:8080 \
    RAGOPS_METRICS_ADDRESS=0.0.0.0:9464
EXPOSE 8080 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/bin/healthcheck.mjs"]

# Numeric, so Kubernetes' runAsNonRoot can check it. For Compose deploys, give this user the
# Docker socket's group (docker run --group-add <gid of /var/run/docker.sock>).
USER 10001:10001
CMD ["ragops", "worker"]
