# syntax=docker/dockerfile:1
# The annotel image: the worker by default; `init` and `simulate` in
# docker-compose.yml run other annotel commands from the same image.
#
#   docker build -t annotation-telemetry:0.1.0 .
#   docker run --rm annotation-telemetry:0.1.0 --help
#
# Stage 1 builds wheels for the project and all its dependencies; stage 2
# installs only those wheels (no index, no compiler, no source tree) and runs as
# an unprivileged user. Only the embedded extras (chDB, the embedded broker)
# are left out: in a container the worker talks to Kafka and a ClickHouse server.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# .dockerignore lets only the package sources, pyproject.toml and README.md in.
COPY . .
RUN python -m pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 annotel \
    && useradd --system --uid 10001 --gid annotel --home-dir /var/lib/annotel \
       --create-home --shell /usr/sbin/nologin annotel
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links /wheels annotation-telemetry
USER annotel
WORKDIR /var/lib/annotel
# ANNOTEL_DATA_DIR only matters for the embedded chDB, which this image does not
# ship; compose sets ANNOTEL_CLICKHOUSE_URL to the ClickHouse server.
ENV ANNOTEL_DATA_DIR=/var/lib/annotel
# The worker serves /health and /metrics on ANNOTEL_WEB_BIND:ANNOTEL_WEB_PORT,
# 127.0.0.1:6066 by default, so this check runs inside the container's own
# network namespace and works with either bind address. docker-compose.yml sets
# ANNOTEL_WEB_BIND=0.0.0.0 for the worker so that other containers on the
# compose network (e.g. a Prometheus scraper) can reach /metrics; the workers
# publish no host port, so nothing outside that network sees it.
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('ANNOTEL_WEB_PORT', '6066'), timeout=4)"]
ENTRYPOINT ["annotel"]
CMD ["worker"]
