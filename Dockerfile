# ota-inbound: SMTP intake for restaurant reservation mail.
# Build: docker build -t ota-inbound .
# Run:   docker run -p 25:2525 -p 127.0.0.1:8025:8025 -v ota-data:/data \
#          -e OTA_INBOUND_DOMAINS=intake.example -e OTA_INBOUND_API_TOKEN=change-me ota-inbound

# --- build: compile TypeScript and the better-sqlite3 native addon ---
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

# --- runtime: no compiler, no shell tools needed for the health check ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    OTA_INBOUND_DATA_DIR=/data \
    OTA_INBOUND_CERTS_DIR=/data/certs \
    OTA_INBOUND_SMTP_HOST=0.0.0.0 \
    OTA_INBOUND_HTTP_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY web ./web
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 2525 8025
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "dist/src/cli/main.js", "healthcheck"]
# exec form: the server is PID 1's child-free process and gets SIGTERM directly.
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
