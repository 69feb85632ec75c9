# Two commands for a fresh machine: `make run` (the product with demo data) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
INSTALLED := $(VENV)/.installed
ASSETS := var/static_build/css/application.css
# Start the embedded PostgreSQL only when DATABASE_URL is unset; the recipe's shell owns it and
# stops it on exit (Ctrl-C included).
WITH_DB = if [ -z "$${DATABASE_URL:-}" ]; then \
	  trap '$(PY) -m ehe_register.embedded_db stop' EXIT INT TERM; \
	  $(PY) -m ehe_register.embedded_db start; fi

.PHONY: run test install assets browser lint migrate-check bench clean

# `make run` is the product as a council sees it: no debug pages (the product's own 404 and 500),
# and links in emails pointing at the address it serves. `make run DJANGO_DEBUG=1` for debug pages.
run: export DJANGO_DEBUG = 0
run: export EHE_BASE_URL = http://127.0.0.1:$(PORT)/
run: install
	@set -e; $(WITH_DB); \
	$(PY) manage.py migrate --noinput; \
	$(PY) manage.py load_reference_data; \
	$(PY) manage.py seed_demo; \
	$(PY) manage.py demo_logins --url http://127.0.0.1:$(PORT)/; \
	PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile

test: install browser
	@set -e; $(WITH_DB); \
	$(PY) -m pytest $(PYTEST_ARGS)

install: $(INSTALLED) $(ASSETS)

$(INSTALLED): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(ASSETS): node_modules/.installed $(wildcard ehe_register/assets/*.mjs ehe_register/assets/scss/*.scss)
	npm run --silent build

assets: node_modules/.installed
	npm run --silent build

# Browser tests use Debian's chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

# The benchmark (issue 12, docs/PERFORMANCE.md): `make bench SCALE=10000` for a quick run; by default
# 10,000, 100,000 and 1,000,000 children. Builds (or reuses) ehe_bench_<scale> on the same server.
SCALE ?= 10000,100000,1000000
BENCH_ARGS ?=
bench: install
	@set -e; $(WITH_DB); \
	$(PY) -m bench --scales $(SCALE) $(BENCH_ARGS)

migrate-check: install
	$(PY) manage.py makemigrations --check --dry-run

clean:
	-$(PY) -m ehe_register.embedded_db stop
	rm -rf var node_modules $(VENV)
