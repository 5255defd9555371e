# The hotspots service. Build: docker build -t hotspots .
# Run with a PostGIS database (see compose.yaml; without HOTSPOTS_DATABASE_URL it would keep an embedded
# SQLite file in /srv/hotspots/var, fine for a trial, not for police data):
#   docker run -e HOTSPOTS_DATABASE_URL=postgresql+psycopg://... -p 8000:8000 hotspots
FROM python:3.11-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# GDAL comes inside the pyogrio/pyproj/shapely wheels. No Node.js: the map assets are fetched with Python.
# Community briefs as PDF need Chromium (and the 'pdf' extra below); build with --build-arg WITH_PDF=0 to
# leave both out: /communities/{id}/brief.pdf then answers 503 and the HTML brief prints from the browser.
ARG WITH_PDF=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libexpat1 \
 && if [ "$WITH_PDF" = 1 ]; then apt-get install -y --no-install-recommends chromium fonts-dejavu-core; fi \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 hotspots
WORKDIR /srv/hotspots

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY spatial ./spatial
COPY models ./models
COPY migrations ./migrations
# Installed as a package (migrations and the lock file of the map assets ship inside it), then the
# build tree is removed: the service runs from site-packages like any installed program. Leaflet and
# its plugin come from the npm registry at build time (tarballs checked against
# app/frontend/package-lock.json) into the data directory, and are served by the service itself.
ENV HOTSPOTS_DATA_DIR=/srv/hotspots/var
RUN if [ "$WITH_PDF" = 1 ]; then pip install ".[pdf]"; else pip install .; fi \
 && rm -rf /srv/hotspots/app /srv/hotspots/spatial /srv/hotspots/models /srv/hotspots/migrations \
      /srv/hotspots/pyproject.toml /srv/hotspots/alembic.ini /srv/hotspots/build \
 && python -m app.assets --dest /srv/hotspots/var/static/vendor --no-cache \
 && chown -R hotspots:hotspots /srv/hotspots

USER hotspots
ENV HOTSPOTS_ENVIRONMENT=production
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Migrate, then serve with one worker (several uvicorn workers lose TCP_NODELAY; scale with replicas).
# Behind a TLS proxy set FORWARDED_ALLOW_IPS to its address, so client addresses (rate limits, audit)
# and https (Secure cookies, the same-origin check) come through.
ENV FORWARDED_ALLOW_IPS=127.0.0.1
CMD ["sh", "-c", "hotspots db upgrade && uvicorn --factory app.main:create_app --host 0.0.0.0 --port 8000 --proxy-headers"]
