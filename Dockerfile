# syntax=docker/dockerfile:1
# The handoff server: `docker build -t handoff .`, then see docs/deployment.md ("Docker").
#
# Two stages: the builder makes a wheel of this checkout and installs it with its
# dependencies into a virtualenv at /opt/handoff; the runtime stage copies only that
# virtualenv onto a slim Python, adds bubblewrap (the custom-action sandbox) and tini,
# and runs `handoff serve` as an unprivileged user.
ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/handoff
# Every dependency has a binary wheel for CPython 3.11 on amd64 and arm64, so the
# builder needs no compiler. The wheel is built from what .dockerignore lets in: the
# package, and the preset dialogues and demo page it carries as data files.
COPY pyproject.toml README.md ./
COPY handoff ./handoff
COPY dialogues ./dialogues
COPY client_examples ./client_examples
RUN /opt/handoff/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/handoff/bin/pip install /wheels/handoff-*.whl \
 && /opt/handoff/bin/handoff --help > /dev/null

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}
# bubblewrap: each custom-action worker runs in its own namespaces (see "The sandbox
# in a container" in docs/deployment.md for what the container runtime must allow).
# tini: PID 1 that forwards signals and reaps what a killed worker leaves behind.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap tini \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 handoff \
 && useradd --system --uid 10001 --gid handoff --home-dir /var/lib/handoff \
      --shell /usr/sbin/nologin handoff \
 && install -d -o handoff -g handoff -m 0750 /var/lib/handoff
COPY --from=builder /opt/handoff /opt/handoff
ENV PATH=/opt/handoff/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HANDOFF_HOST=0.0.0.0 \
    HANDOFF_PORT=8080 \
    HANDOFF_DATA_DIR=/var/lib/handoff
USER handoff:handoff
WORKDIR /var/lib/handoff
# The embedded SQLite database and the generated secret key live here when
# HANDOFF_DATABASE_URL and HANDOFF_SECRET_KEY are not set.
VOLUME ["/var/lib/handoff"]
EXPOSE 8080
# /healthz answers 503 while the database is failing; any answer but 2xx fails this.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HANDOFF_PORT', '8080'), timeout=4)"]
# `docker run IMAGE` serves; `docker run IMAGE migrate` (or create-agent, ...) runs
# another `handoff` command.
ENTRYPOINT ["tini", "--", "handoff"]
CMD ["serve"]
