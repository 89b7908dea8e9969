# syntax=docker/dockerfile:1
# Switchboard node image. Build: docker build -t switchboard .   See docs/deploy.md.

# ---- build: all dependencies (TypeScript), compile src/ to dist/ ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs the sources, copied below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies only, non-root ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    SWITCHBOARD_HOST=0.0.0.0 \
    SWITCHBOARD_PORT=6001
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts skips `prepare` (tsc is a dev dependency); the native helpers
# bufferutil and utf-8-validate then load their prebuilt binaries (npm rebuild runs their install step).
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm rebuild bufferutil utf-8-validate \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
# The `node` user (uid 1000) exists in the official image.
USER node
EXPOSE 6001
# Liveness only: /ready (503 while draining) is for load balancers and Kubernetes readiness.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SWITCHBOARD_PORT||6001)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM starts the graceful drain: /ready answers 503, clients are closed with 4200 over drainSeconds.
STOPSIGNAL SIGTERM
CMD ["node", "dist/cli/main.js", "start"]
