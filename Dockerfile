# syntax=docker/dockerfile:1
#
# preflight as an image: the self-contained bundle, the migrations and the seeds, on Node.js 22.
#
#   docker build -t preflight .
#
# Two uses (README, "Platforms"):
#   - the pre-deploy job: `docker run --rm -e DATABASE_URL preflight` runs `preflight run`
#     (the default CMD) and exits 0, or non-zero with the report, so the deploy stops;
#   - an ENTRYPOINT wrapper in front of an app: build the app image FROM this one and set
#     CMD ["run", "--", "node", "server.js"]; after a successful run preflight replaces itself
#     with the app (process.execve, Node.js 22.15+), so the app gets PID 1 and the signals.

# Node.js 22 or newer: 22.15+ offers process.execve, so `run -- CMD` hands over in place.
ARG NODE_IMAGE=node:22-bookworm-slim
# The bundle is plain JavaScript, the same on every platform, so it is built once, on the
# builder's own platform (BuildKit's automatic BUILDPLATFORM).

# --- build: npm ci, type-check and bundle --------------------------------------------------
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first, so that a source change reuses this layer. No install scripts: esbuild
# finds its binary without one, and the test-only Postgres binaries need no set-up here.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs scripts/code-cache.cjs scripts/
COPY src/ src/
COPY migrations/ migrations/
COPY seeds/ seeds/
# tsc type-checks; scripts/bundle.mjs fails if the bundle would still need node_modules.
RUN npm run build && node dist/preflight.cjs --version

# --- runtime: the bundle, the migrations and the seeds, nothing else -----------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# Absolute paths, so a derived app image may change WORKDIR. The expected-schema file defaults
# to migrations/expected-schema.json inside PREFLIGHT_MIGRATIONS.
ENV PREFLIGHT_MIGRATIONS=/app/migrations \
    PREFLIGHT_SEEDS=/app/seeds
# Owned by root and read-only for the user that runs: nothing at run time can edit a migration.
COPY --from=build /src/dist/preflight.cjs /src/dist/code-cache.cjs /app/
COPY --from=build /src/migrations/ /app/migrations/
COPY --from=build /src/seeds/ /app/seeds/
# V8's compiled code of the bundle, made by this image's own node (V8 accepts only its own):
# each start reads it instead of compiling. Without it preflight runs the same, a little slower.
RUN node /app/code-cache.cjs /app/preflight.cjs && rm /app/code-cache.cjs
# The image's `node` user, by number, so Kubernetes' runAsNonRoot can verify it is not root.
USER 1000:1000
ENTRYPOINT ["node", "/app/preflight.cjs"]
CMD ["run"]
