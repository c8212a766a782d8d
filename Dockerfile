# syntax=docker/dockerfile:1
# segment-server: Index Exchange RTD + Cached API data-partner server.
#   docker build -t segment-server .
#   docker run -p 127.0.0.1:8080:8080 -v segserver-data:/data segment-server
# Config via environment: SEGMENT_SERVER_<SECTION>__<KEY> (see config/default.toml), e.g.
#   -e SEGMENT_SERVER_SERVER__WORKERS=4 -e SEGMENT_SERVER_SERVER__ACCESS_LOG_SAMPLE_RATE=0.01

# ---- build: a venv with the pinned dependencies (wheels only) and the project, hot path compiled ----
FROM python:3.11.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# gcc for mypyc's C output; build stage only, the runtime image carries no compiler. Debian's
# security updates replace exact package versions, so these follow the pinned base image instead.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first: this layer is reused until requirements.lock changes.
COPY requirements.lock ./
RUN pip install --only-binary=:all: -r requirements.lock
COPY pyproject.toml README.md ./
COPY segments ./segments
COPY server ./server
RUN pip install --no-deps .
# Compile the installed hot path in place (segments/compiled.py explains the stamp); mypy is only
# needed for this step. A failed build is not fatal: the same modules then run as plain Python.
COPY scripts/build_native.py ./scripts/
RUN pip install mypy==2.4.1 \
    && python scripts/build_native.py --root "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
    ; pip uninstall -y mypy librt

# ---- runtime: slim, non-root ------------------------------------------------------------------
FROM python:3.11.7-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SEGMENT_SERVER_CONFIG=/app/config/default.toml \
    SEGMENT_SERVER_SERVER__HOST=0.0.0.0 \
    SEGMENT_SERVER_SERVER__PORT=8080 \
    SEGMENT_SERVER_SERVER__WORKERS=2 \
    SEGMENT_SERVER_STORE__DATA_DIR=/data
RUN groupadd --system --gid 10001 segserver \
    && useradd --system --uid 10001 --gid segserver --home-dir /app --shell /usr/sbin/nologin segserver \
    && mkdir -p /data \
    && chown segserver:segserver /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The installed package does not carry config/default.toml: SEGMENT_SERVER_CONFIG layers it in.
COPY config ./config
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080
# Liveness with the stdlib only (no curl in the image).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('SEGMENT_SERVER_SERVER__PORT', '8080'), timeout=2)"]
# Worker count, bind address, port and data dir: the SEGMENT_SERVER_* variables above.
ENTRYPOINT ["segment-server"]
CMD ["serve"]
