# The application image (api, scheduler, runner with the local executor, storage): FIRST DRAFT, built and
# tested with the compose stack in a later issue. The base image is a build argument so CI can use a
# locally built Debian (no registry there) while users get debian:bookworm-slim.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-qgis qgis-providers ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/outpost
COPY pyproject.toml ./
COPY contracts ./contracts
COPY services ./services
COPY infra/migrations ./infra/migrations
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -e .
ENV PATH=/opt/venv/bin:$PATH QT_QPA_PLATFORM=offscreen
USER nobody
