#!/usr/bin/env bash
# Builds a minimal Debian bookworm base image without any registry: debootstrap (minbase) into a temp dir,
# then `docker import` it as DEST_TAG. Uses the Docker engine of $DOCKER_HOST (or the default socket).
# Skips the work when DEST_TAG exists already. Needs root and the `debootstrap` package.
#
#   infra/docker/base-image.sh local/debian:bookworm
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), DOCKER (the docker CLI, default `docker`).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DEST_TAG   (e.g. local/debian:bookworm)" >&2
  exit 2
fi
DEST_TAG=$1
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKER=${DOCKER:-docker}

if "$DOCKER" image inspect "$DEST_TAG" >/dev/null 2>&1; then
  echo "[base-image] $DEST_TAG exists already" >&2
  exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "[base-image] debootstrap is missing: apt-get install -y debootstrap" >&2
  exit 1
fi

ROOT=$(mktemp -d /tmp/outpost-base-XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
echo "[base-image] debootstrap bookworm into $ROOT from $MIRROR" >&2
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || {
  tail -n 30 "$ROOT.log" >&2
  rm -f "$ROOT.log"
  exit 1
}
rm -f "$ROOT.log"
# Like debian:bookworm-slim: no apt caches or package lists in the image.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
echo "[base-image] importing as $DEST_TAG" >&2
tar -C "$ROOT" -c . | "$DOCKER" import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$DEST_TAG" >/dev/null
echo "[base-image] built $DEST_TAG" >&2
