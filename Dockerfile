# One image for both apps: the API by default, the worker with `blogworker` as the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies are pinned by constraints.txt so the image matches what CI tested.
COPY pyproject.toml constraints.txt ./
COPY src ./src
RUN pip install -c constraints.txt .

# data_dir (var/) must be writable by the unprivileged user; nothing else is.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin blogqueue \
    && mkdir -p /app/var \
    && chown blogqueue:blogqueue /app/var
USER blogqueue

EXPOSE 8000
# Both processes handle SIGTERM themselves: uvicorn drains requests, blogworker drains jobs.
STOPSIGNAL SIGTERM
CMD ["uvicorn", "webapi.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
