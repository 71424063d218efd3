# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INBOX ?= data/inbox
OUTPUT ?= output

.PHONY: install run airflow test bench lint format system-deps clean

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
	$(BIN)/python -m village_reports upgrade
	@echo "running village_reports and township_report with 'airflow dags test' (log: $(AIRFLOW_LOG))"
	@$(BIN)/airflow dags test village_reports > $(AIRFLOW_LOG) 2>&1 || { tail -40 $(AIRFLOW_LOG); exit 1; }
	@$(BIN)/airflow dags test township_report >> $(AIRFLOW_LOG) 2>&1 || { tail -40 $(AIRFLOW_LOG); exit 1; }
	@grep -q "state=success" $(AIRFLOW_LOG) || { tail -40 $(AIRFLOW_LOG); exit 1; }
	@echo
	$(BIN)/python -m village_reports status
	@echo "blank templates:     $(OUTPUT)/templates/<year>/"
	@echo "submissions:         $(INBOX)/<year>/   archive: data/archive/"
	@echo "回执 (feedback):      $(OUTPUT)/feedback/<year>/   审核记录: $(OUTPUT)/validation/index.html"

# Airflow's api-server, scheduler and dag-processor in the foreground until Ctrl-C, with
# the environment above (bin/airflow-env; another terminal: `source bin/airflow-env`).
# AIRFLOW_PORT=8090 make airflow picks another port (not 8793: the scheduler's log server).
# docs/runbook_backfill.md uses it.
airflow: install
	bin/airflow-services

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

# System packages some tests need: LibreOffice re-saves workbooks as villages do and prints
# them to PDF (Calc), Writer prints annual_report.docx to PDF (its library, libswlo.so, is
# how it shows), poppler reads the PDF back (pdftotext, pdffonts), and a Chinese font prints
# the Chinese. tests/integration/test_browser.py drives Debian's chromium through its
# chromedriver (Selenium uses both binaries and downloads no browser). Each is checked on
# its own; only what is missing is installed.
# CI runs this; on a developer's machine those tests skip when a tool is missing.
system-deps:
	@missing=""; \
	command -v soffice >/dev/null || missing="$$missing libreoffice-calc-nogui"; \
	test -e /usr/lib/libreoffice/program/libswlo.so || missing="$$missing libreoffice-writer-nogui"; \
	{ command -v pdftotext && command -v pdffonts; } >/dev/null || missing="$$missing poppler-utils"; \
	fc-list :lang=zh family 2>/dev/null | grep -q . || missing="$$missing fonts-noto-cjk"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -x /usr/bin/chromedriver || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

clean:
	rm -rf $(VENV) data output .pytest_cache .ruff_cache
