# syntax=docker/dockerfile:1
#
# alertd container image: a slim Python base, the package built from this source tree,
# run as an unprivileged user (uid/gid 10001), health-checked on /healthz.
#
#   docker build -t alertd:latest .
#   docker run -d --name alertd \
#       -v "$PWD/config.yaml:/etc/alertd/config.yaml:ro" \
#       -v alertd-state:/var/lib/alertd \
#       -e BROWSER7_API_KEY -e NOTIFY_URL \
#       -p 127.0.0.1:9464:9464 \
#       alertd:latest
#
# or `docker compose up -d` with docker-compose.yml. Useful one-offs in a running container:
#   docker exec alertd alertd check          (ALERTD_CONFIG below points at the config)
#   docker kill --signal HUP alertd          (reload the config)
#
# The config (/etc/alertd/config.yaml) must keep `http: {listen: "0.0.0.0:9464"}`: the
# HEALTHCHECK below asks http://127.0.0.1:9464/healthz, and the port mapping needs 0.0.0.0.
# The image ships deploy/config.container.yaml there; mount your own over it (read-only).
# The store (store: sqlite:///var/lib/alertd/alertd.db: alert state and history) lives in
# the /var/lib/alertd volume; back it up with `sqlite3 alertd.db ".backup copy.db"`.
#
# CI has no Docker engine: deploy/docker-build-steps.sh reads this file and runs its build and
# install steps (the RUN lines starting with `python` or `alertd`, the COPY lines) outside
# Docker, each stage's filesystem under a temp dir. For that to work, those RUN lines use no
# literal absolute paths: paths come from ENV variables, which the script re-roots.

# ---- build stage: a wheel of alertd from the source tree --------------------------------
FROM python:3.12-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    WHEEL_DIR=/wheels

WORKDIR /src
# Only what the wheel is built from (see also .dockerignore).
COPY pyproject.toml README.md ./
COPY alertd/ ./alertd/
RUN python -m pip wheel --no-deps --wheel-dir "$WHEEL_DIR" .

# ---- runtime stage ------------------------------------------------------------------------
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    WHEEL_DIR=/wheels \
    ALERTD_CONFIG=/etc/alertd/config.yaml

# An unprivileged system user with a fixed uid/gid (10001), no home, no login shell.
RUN groupadd --system --gid 10001 alertd \
 && useradd --system --uid 10001 --gid alertd --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin alertd

# Install the wheel and its dependencies (bytecode is compiled here, at build time: at run
# time the root filesystem may be read-only and PYTHONDONTWRITEBYTECODE is set).
COPY --from=build /wheels/ /wheels/
RUN python -m pip install "$WHEEL_DIR"/alertd-*.whl
RUN alertd --version

# The store's directory, owned by the alertd user: a new named volume copies this ownership.
RUN install -d -o alertd -g alertd -m 0700 /var/lib/alertd
COPY deploy/config.container.yaml /etc/alertd/config.yaml

VOLUME ["/var/lib/alertd"]
WORKDIR /var/lib/alertd
USER 10001:10001
EXPOSE 9464
STOPSIGNAL SIGTERM

# Slim images have no curl: ask /healthz with the standard library. urlopen raises on a 503
# (a first poll still under way, a stale provider, or the scheduler stopped) and on a refused
# connection, so the command exits 1 (unhealthy); it exits 0 on 200. The start period covers
# the first polls (a provider's timeout, 10 s by default); /livez would only say the process
# is not wedged, not that it watches the balances.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status != 200)"]

ENTRYPOINT ["alertd"]
CMD ["run", "-c", "/etc/alertd/config.yaml"]
