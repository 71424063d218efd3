# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INBOX ?= data/inbox
OUTPUT ?= output

.PHONY: install run test bench lint format system-deps clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Airflow runs from the project folder with a SQLite metadata DB; the warehouse defaults
# to data/warehouse.sqlite (set AIRFLOW_CONN_VILLAGE_WAREHOUSE to use PostgreSQL).
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER ?= $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
export AIRFLOW__CORE__DEFAULT_TIMEZONE ?= Asia/Shanghai
AIRFLOW_LOG := $(AIRFLOW_HOME)/dags-test.log

run: install
	$(BIN)/python -m village_reports templates --out $(OUTPUT)/templates
	$(BIN)/python -m village_reports dictionary --out $(OUTPUT)/data_dictionary.md
	$(BIN)/python -m village_reports samples --inbox $(INBOX)
	$(BIN)/airflow db migrate > /dev/null
	@echo "running village_reports and township_report with 'airflow dags test' (log: $(AIRFLOW_LOG))"
	@$(BIN)/airflow dags test village_reports > $(AIRFLOW_LOG) 2>&1 || { tail -40 $(AIRFLOW_LOG); exit 1; }
	@$(BIN)/airflow dags test township_report >> $(AIRFLOW_LOG) 2>&1 || { tail -40 $(AIRFLOW_LOG); exit 1; }
	@grep -q "state=success" $(AIRFLOW_LOG) || { tail -40 $(AIRFLOW_LOG); exit 1; }
	@echo
	$(BIN)/python -m village_reports status
	@echo "blank templates:     $(OUTPUT)/templates/<year>/"
	@echo "sample submissions:  $(INBOX)/<year>/   archive: data/archive/   warehouse: data/warehouse.sqlite"

# Benchmarks, not tests: 18, 1,000 and 24,000 synthetic submissions. The DAGs as Airflow
# runs them (airflow dags test, and a scheduler with LocalExecutor), against the naive
# pipeline and the calamine read floor on the same files, on SQLite and PostgreSQL (about
# forty minutes). The table is printed and written to output/benchmarks.md;
# docs/benchmarks.md records it.
BENCH_SIZES ?= 18,1000,24000
bench: install
	mkdir -p $(OUTPUT)
	$(BIN)/python bench/run.py --sizes $(BENCH_SIZES) --databases sqlite,postgresql --out $(OUTPUT)/benchmarks.md

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest

# System packages some tests need (LibreOffice re-saves workbooks as villages do).
# CI runs this; on a developer's machine those tests skip when soffice is missing.
system-deps:
	@command -v soffice >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui >/dev/null; }

clean:
	rm -rf $(VENV) data output .pytest_cache .ruff_cache
