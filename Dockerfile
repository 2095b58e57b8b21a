# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build --target cpu  -t latentbot:cpu  .   # bot and CPU workers
#   docker build --target cuda -t latentbot:cuda .   # GPU workers (ONNX Runtime's CUDA 12 execution provider)
# Both run the compiled JavaScript in dist/ with production dependencies only.

ARG NODE_VERSION=20

# ---- build: dependencies, compile, then drop the dev dependencies ----
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The CPU build of onnxruntime ships inside the npm package; the CUDA one is fetched in build-cuda below.
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- cpu: the bot, and workers on CPU ----
FROM node:${NODE_VERSION}-bookworm-slim AS cpu
ENV NODE_ENV=production \
    MODEL_DIR=/app/models/emoji-ld2 \
    DEVICE=cpu
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node models/emoji-ld2 ./models/emoji-ld2
USER node
# 8080: sandbox page (only without DISCORD_TOKEN); 9464: /healthz and /metrics when METRICS_PORT=9464.
EXPOSE 8080 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]

# ---- build-cuda: the same modules with ONNX Runtime's CUDA binaries ----
FROM build AS build-cuda
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node

# ---- cuda: GPU workers ----
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 AS cuda
COPY --from=build /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    MODEL_DIR=/app/models/emoji-ld2 \
    DEVICE=cuda
WORKDIR /app
COPY --from=build-cuda /app/package.json ./
COPY --from=build-cuda /app/node_modules ./node_modules
COPY --from=build-cuda /app/dist ./dist
COPY models/emoji-ld2 ./models/emoji-ld2
USER ubuntu
EXPOSE 9465
CMD ["node", "dist/src/queue/worker-main.js"]
