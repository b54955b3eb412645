# The application image: one image for api, scheduler, runner (local executor: QGIS is inside) and storage,
# started with different commands (compose.yaml). Built by `make e2e` and the tests/compose suite.
#
#   docker build -f infra/docker/app.Dockerfile -t outpost/app:dev .                 (from the repo root)
#   docker build -f infra/docker/app.Dockerfile --build-arg BASE_IMAGE=local/debian:bookworm ...
#
# The base image is a build argument: users get debian:bookworm-slim from Docker Hub, CI (no registry) builds
# local/debian:bookworm with infra/docker/base-image.sh.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

# The slow layer first: Debian's Python and PyQGIS (the local executor runs the QGIS worker with
# /usr/bin/python3), plus postgresql-client for pg_isready/psql when debugging.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-qgis qgis-providers ca-certificates tini postgresql-client \
 && rm -rf /var/lib/apt/lists/*

# Extra certificate authorities, for a build behind a TLS-intercepting proxy: put PEM files named *.crt
# into infra/docker/ca-certificates/ (git ignores them). Empty by default.
COPY infra/docker/ca-certificates/ /usr/local/share/ca-certificates/outpost/
RUN update-ca-certificates >/dev/null
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Dependencies before sources, so a code change does not reinstall them.
WORKDIR /opt/outpost
COPY pyproject.toml ./
RUN python3 -m venv /opt/venv \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && /opt/venv/bin/pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The sources, installed in place (editable): the local executor starts the QGIS worker as
# `/usr/bin/python3 -m runner.worker` with PYTHONPATH=/opt/outpost/services, so the worker sees our code and
# Debian's PyQGIS but none of the venv's packages; `outpost migrate` finds infra/migrations next to them.
COPY contracts ./contracts
COPY services ./services
COPY infra/migrations ./infra/migrations
RUN /opt/venv/bin/pip install --no-deps -e . \
 && groupadd --system --gid 10001 outpost \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/outpost --create-home \
      --shell /usr/sbin/nologin outpost

ENV PATH=/opt/venv/bin:$PATH \
    QT_QPA_PLATFORM=offscreen \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8 \
    OUTPOST_LOG_JSON=true
USER 10001:10001
# tini reaps the QGIS workers the local executor starts and forwards signals to the service.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "api"]
