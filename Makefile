# The two commands of the quick start: `make run` and `make test`. Both set up .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "schoolgate needs Python 3.12 or newer (see .python-version)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Set up, create the database and the admin web's HTTPS certificate the first time (init is also safe to run
# again: it upgrades, and keeps a certificate that is still valid), then run.
run: $(STAMP)
	@if [ -z "$$SCHOOLGATE_CONFIG" ] && [ -z "$$SCHOOLGATE_DATABASE_URL" ] && [ -f var/schoolgate.db ] \
		&& [ -f var/web-cert.pem ]; then \
		echo "database var/schoolgate.db and certificate var/web-cert.pem exist"; else $(BIN)/schoolgate init; fi
	$(BIN)/schoolgate run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/decide.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-output
