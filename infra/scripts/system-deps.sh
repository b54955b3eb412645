#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Outpost needs, if any is missing: QGIS for the worker (Debian's
# /usr/bin/python3 + PyQGIS), PostgreSQL (+PostGIS) for the embedded database, GDAL tools.
# With --test also what the tests need beyond that: a Docker engine, debootstrap and docker-compose (docker
# executor, compose stack) and Chromium (browser tests).
# As root it runs apt-get; otherwise it prints the one command to run.
set -euo pipefail

PACKAGES=(make python3-qgis qgis-providers postgresql postgresql-common gdal-bin python3-venv)
if [ "${1:-}" = "--test" ]; then
  PACKAGES+=(docker.io debootstrap docker-compose chromium)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ! ls /usr/lib/postgresql/*/lib/postgis-3.so >/dev/null 2>&1; then
  missing+=("postgresql-postgis")
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "Outpost needs these system packages: ${missing[*]}" >&2
  echo "Install them with:  sudo sh -c '$cmd'" >&2
  exit 1
fi
echo "[outpost] installing system packages: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
