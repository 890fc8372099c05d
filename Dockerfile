# Production image: slim Python, non-root, gunicorn. The same image runs web, worker and beat
# (see docker-compose.yml); configuration is entirely through the environment (README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# gcc for the wheels that build; Pango and a font for WeasyPrint (the worker writes PDF reports).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN useradd --create-home --uid 10001 hemiscope && mkdir -p var/reports && chown -R hemiscope var
USER hemiscope

# collectstatic needs importable settings; these throwaway values never reach runtime. With
# DEBUG off WhiteNoise serves only what this step collected (plus its manifest).
RUN DEBUG=false SECRET_KEY=build-only ALLOWED_HOSTS=build HEMI_NETWORK=mainnet \
    DATABASE_URL=postgresql://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput

EXPOSE 8000
# Threaded workers (hemiscope/gunicorn_conf.py says why): idle or slow clients cannot block them.
CMD ["gunicorn", "hemiscope.wsgi", "--config", "python:hemiscope.gunicorn_conf", "--bind", "0.0.0.0:8000"]
