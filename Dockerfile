# syntax=docker/dockerfile:1
# The colonies-ha server image: `docker build -t colonies-ha:0.1.0 .`
#
# Stage 1 builds wheels of colonies-ha and everything it depends on (compilers allowed here);
# stage 2 installs only those wheels into a slim Python with no build tools, as a non-root user.
FROM python:3.11-slim AS builder
WORKDIR /src
COPY pyproject.toml README.md ./
COPY colonies_ha ./colonies_ha
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels colonies-ha \
    && groupadd --system --gid 10001 colonies \
    && useradd --system --uid 10001 --gid colonies --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin colonies \
    && mkdir -p /var/lib/colonies-ha/raft \
    && chown colonies:colonies /var/lib/colonies-ha/raft
USER 10001:10001
# 50080: the API (POST /api, /health, /ready, /pubsub); 50090: Raft between replicas;
# 51080: the relay port of the Raft process (COLONIES_WORKERS > 1), between replicas.
EXPOSE 50080 50090 51080
ENTRYPOINT ["colonies-ha", "server"]
