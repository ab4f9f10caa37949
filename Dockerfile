# spotcheck serve in a container: `docker build -t spotcheck .` then see README.md, "Container image".
# Two stages: dependencies are installed (and classic-level, dynalite's storage, compiled if no prebuilt binary
# fits) where build tools exist; the runtime image has Node, git and the app only.

FROM node:22-slim AS deps
WORKDIR /app
# classic-level ships prebuilt binaries for linux x64/arm64; the tools are the fallback for other platforms.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# tsx is a runtime dependency: bin/spotcheck.js runs the TypeScript sources through it, so there is no build step.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:22-slim
# git: the local runner checks orders out with it. ca-certificates: HTTPS to GitHub, Gitea and AWS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000 \
    SPOTCHECK_DATA_DIR=/data \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json app.yml ./
COPY --chown=root:root bin ./bin
COPY --chown=root:root src ./src
COPY --chown=root:root handlers ./handlers
COPY --chown=root:root runners ./runners
COPY --chown=root:root examples ./examples
# Local-runner steps run as spotcheck-runner, never as the server: they cannot read its environment, memory, data
# folder or keys. Starting a process as another user needs root, so the server runs as root; the data dir (the
# embedded store, file logs and the secrets key) is root's, 0700. Steps work in their own folders under /tmp.
RUN useradd --system --no-create-home --shell /usr/sbin/nologin spotcheck-runner \
 && mkdir -p /data && chmod 700 /data
ENV SPOTCHECK_LOCAL_USER=spotcheck-runner
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node as PID 1 is fine here: serve handles SIGTERM itself (docker stop) and closes cleanly.
CMD ["node", "bin/spotcheck.js", "serve"]
