# The ragops worker. pg_dump/pg_restore come from postgresql-client-15: a pg_dump can dump
# servers of its own major version or older, so match or exceed the stacks' PostgreSQL.
FROM node:20-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src

USER node
CMD ["node", "bin/ragops.mjs", "worker"]
