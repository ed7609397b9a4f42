# Beatbook. `make run` installs and serves the demo; `make test` installs and runs the checks.
PY ?= python3
VENV := .venv
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.9.30
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell command -v $(PY))

.PHONY: install run worker migrate test lint bench system-deps i18n clean

$(UV):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen
	touch $@

install: $(VENV)/.synced

.env:
	cp .env.example .env

run: install .env
	@$(VENV)/bin/python -c "from pathlib import Path; from crm.settings import write_env_secret; write_env_secret(Path('.env'))"
	$(VENV)/bin/beatbook db upgrade
	$(VENV)/bin/beatbook demo
	@echo "Beatbook on http://127.0.0.1:8000"
	$(VENV)/bin/beatbook serve --host 127.0.0.1 --port 8000

worker: install
	$(VENV)/bin/beatbook worker

migrate: install
	$(VENV)/bin/beatbook db upgrade

# Chromium (browser tests), PostgreSQL (every database test runs on it too), SpamAssassin
# (its offline rules score every kind of mail we send), Dovecot (IMAP polling is tested
# against it) and Pango (WeasyPrint's text layout, for PDF reports), from Debian.
system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| ! id postgres >/dev/null 2>&1 || ! command -v spamassassin >/dev/null 2>&1 \
		|| [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/imap ] \
		|| ! ldconfig -p | grep -q libpangoft2-1.0; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium postgresql \
			spamassassin dovecot-imapd libpango-1.0-0 libpangoft2-1.0-0; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy crm outreach web

test: install system-deps lint
	$(VENV)/bin/pytest

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(VENV)/bin/python $$script || exit 1; done

# After changing UI strings: refresh the catalogues (translators then fill sq and sr_Latn).
i18n: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k _ -k N_ -o crm/locale/messages.pot \
		--project Beatbook --version 0.1 .
	$(VENV)/bin/pybabel update -i crm/locale/messages.pot -d crm/locale

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
