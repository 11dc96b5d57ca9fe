# Yizhan: two commands. `make run` sets up and serves the app; `make test` sets up and runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
HOST   ?= 127.0.0.1
# gunicorn: one process per core (each with its own GIL), two threads each.
WORKERS ?= 2
THREADS ?= 2

.PHONY: run test setup setup-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The stamps make a second `make run` start at once; they are rebuilt when a requirements file changes.
$(VENV)/.app-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.app-installed

setup: $(VENV)/.app-installed
setup-dev: $(VENV)/.dev-installed

# A random secret key for the session cookie, kept in instance/ (never a fixed default).
instance/secret_key:
	mkdir -p instance
	$(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@
	chmod 600 $@

run: setup instance/secret_key
	$(BIN)/python -m planner init-db
	@echo "Yizhan on http://$(HOST):$(PORT)/"
	PORT=$(PORT) $(BIN)/gunicorn --bind $(HOST):$(PORT) --workers $(WORKERS) --worker-class gthread --threads $(THREADS) \
		'app:create_app()'

test: setup-dev
	PYTHONPATH=$(CURDIR) $(BIN)/python -m pytest tests --nbmake notebooks -q

bench: setup-dev
	$(BIN)/pip install -q -r bench/requirements.txt
	$(BIN)/python bench/nearest.py
	$(BIN)/python bench/pmedian.py
	$(BIN)/python bench/http_nearest.py
	$(BIN)/python bench/osm_import.py

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts
