# The QGIS worker image for the runner's `docker` executor: one container per job, the job spec on stdin,
# the JSON-lines protocol on stdout (services/runner/ports.py, services/runner/worker/protocol.py).
#
#   docker build -f infra/docker/worker.Dockerfile -t outpost/worker:dev .          (from the repo root)
#   docker build -f infra/docker/worker.Dockerfile --build-arg BASE_IMAGE=local/debian:bookworm ...
#
# The base image is a build argument: users get debian:bookworm-slim from Docker Hub, CI (no registry)
# builds local/debian:bookworm with infra/docker/base-image.sh. The worker needs only Debian's Python,
# PyQGIS and the standard library: no pip, no venv.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

# The slow layer first, so a changed worker only rebuilds the COPY layers below.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-qgis qgis-providers ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# The unprivileged worker user. Its uid is fixed: the executor hands files (the pg service file) to it.
RUN groupadd --system --gid 10001 outpost \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin outpost \
 && install -d -m 0700 -o outpost -g outpost /tmp/runtime-outpost

COPY services/runner/__init__.py /opt/outpost/runner/__init__.py
COPY services/runner/noop_worker.py /opt/outpost/runner/noop_worker.py
COPY services/runner/worker/ /opt/outpost/runner/worker/

ENV PYTHONPATH=/opt/outpost \
    QT_QPA_PLATFORM=offscreen \
    XDG_RUNTIME_DIR=/tmp/runtime-outpost \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8
WORKDIR /tmp
USER 10001:10001
CMD ["python3", "-m", "runner.worker", "run"]
