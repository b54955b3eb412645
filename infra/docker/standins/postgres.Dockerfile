# Stand-in for the upstream `postgres:15` image where no registry is reachable (infra/compose/standins.yaml):
# Debian's PostgreSQL 15 on a local Debian base, with the part of upstream's interface compose.yaml uses:
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB create the cluster on first start, data in
# /var/lib/postgresql/data, password (scram-sha-256) auth over TCP, pg_isready for healthchecks.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
 && install -d -o postgres -g postgres -m 2775 /var/run/postgresql
COPY infra/docker/standins/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:$PATH
USER postgres
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
