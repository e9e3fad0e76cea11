# The nestjs-cluster-leader-elector image: a drop-in for the abandoned
# gcr.io/google_containers/leader-elector sidecar image. Same flags (the container's `args`), same
# answer on --http, but on a coordination.k8s.io/v1 Lease, and it releases the Lease on SIGTERM.
# Build from the repository root:
#   docker build -f docker/leader-elector.Dockerfile -t nestjs-cluster-leader-elector:0.1.0 .

# 1. Compile the library and pack it exactly as it is published to npm.
FROM node:24-alpine AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json README.md ./
COPY lib ./lib
RUN npm run build && npm pack --pack-destination /tmp

# 2. Install that package with its production dependencies and its peers (npm installs required
#    peers: @nestjs/common, rxjs and reflect-metadata are what the command loads), nothing else.
FROM node:24-alpine AS install
WORKDIR /app
COPY --from=build /tmp/nestjs-cluster-leader-*.tgz /tmp/
RUN echo '{ "private": true }' > package.json \
 && npm install --omit=dev --no-audit --no-fund /tmp/nestjs-cluster-leader-*.tgz \
 && npm cache clean --force

# 3. The runtime: Node and node_modules only, as an unprivileged user.
FROM node:24-alpine
ENV NODE_ENV=production
WORKDIR /app
COPY --from=install /app/node_modules ./node_modules
# The numeric id of the image's `node` user, so that `runAsNonRoot: true` can be verified.
USER 1000:1000
# Node itself is PID 1 (no shell in between), so SIGTERM reaches the command, which releases the
# Lease and exits 0. The pod's `args` (--election=..., --http=...) are appended, as they were to
# the old image's entrypoint.
ENTRYPOINT ["node", "/app/node_modules/nestjs-cluster-leader/dist/cli/leader-elector.cli.js"]
