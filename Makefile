# make run   - set everything up and start the service (see README)
# make test  - set everything up, lint, and run the whole test suite
# make test-fast - the inner loop: the tests without a browser or slow subprocesses
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# axe-core (npm) checks the reader's pages for accessibility in the browser tests
AXE    := .cache/axe/node_modules/axe-core/axe.min.js

.PHONY: install run test test-fast lint format bench reliability migrate clean browser wrk axe

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/coursemail db upgrade

run: install
	$(BIN)/coursemail run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The browser tests drive Debian's chromium (never a downloaded one: `playwright install`
# cannot reach its servers here); the production rehearsal puts Debian's nginx and caddy in
# front of the service, with a certificate made by openssl. Installed when missing and we
# may; otherwise say how.
DEBIAN_PACKAGES := chromium nginx caddy openssl
browser:
	@missing=""; \
	for p in $(DEBIAN_PACKAGES); do \
	  case $$p in chromium) bin=$${CHROMIUM_PATH:-/usr/bin/chromium};; \
	    nginx) bin=/usr/sbin/nginx;; *) bin=/usr/bin/$$p;; esac; \
	  [ -x "$$bin" ] || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's$$missing for the browser tests and the rehearsal..."; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	  else \
	    echo "The browser tests and the production rehearsal need Debian's$$missing:" \
	         "sudo apt-get install$$missing (without them those tests say why and do not run," \
	         "except in CI)."; \
	  fi; \
	fi

axe: $(AXE)

$(AXE):
	npm install --prefix .cache/axe --no-audit --no-fund --silent axe-core@4.14.1

test: lint browser axe
	$(BIN)/pytest --cov --cov-report=term

# the inner loop: no browser, no subprocess-heavy tests, no lint, no coverage (a few minutes)
test-fast: install
	$(BIN)/pytest -q -m "not browser and not slow"

# wrk (Debian's package) drives the sign-up benchmark; installed when missing and we may
wrk:
	@if ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing wrk for the sign-up benchmark..."; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; \
	  else \
	    echo "The sign-up benchmark needs wrk: sudo apt-get install wrk"; exit 1; \
	  fi; \
	fi

# every benchmark (about 20 minutes on two cores; PostgreSQL from TEST_DATABASE_URL or 127.0.0.1);
# writes docs/BENCHMARKS.md
bench: install wrk
	COURSEMAIL_ENV=$${COURSEMAIL_ENV:-development} $(BIN)/python -m bench

# the fault suite: the real processes through kills, outages and bad mail (about 10 minutes);
# writes docs/RELIABILITY.md
reliability: install
	$(BIN)/python -m bench.reliability

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
