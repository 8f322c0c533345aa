# stance — every target documents itself: `make` or `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# One tracking store for the Makefile, the CLI and the notebooks; a team can point
# MLFLOW_TRACKING_URI at a shared server instead.
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/mlflow.db
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
UI_PORT ?= 5000
# Label Studio has its own environment: its pins would move numpy, pyarrow and pytz under
# MLflow, pandas and torch. stance talks to it over HTTP only (src/stance/labels/server.py).
LS_VENV := .venv-label-studio
LS_STAMP := $(LS_VENV)/.installed
PORT ?= 8080

SERVE_PORT ?= 5001
SERVE_MODEL ?= models/pipeline
SERVER_PORT ?= 5002
SERVER_DIR ?= .mlflow-server
SERVER_WORKERS ?= 4


.DEFAULT_GOAL := help
.PHONY: help install train ui serve server test lint bench evaluate score-examples report label clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $(STAMP)

# An empty, migrated database beside it: a new Label Studio data folder starts from a copy
# in seconds instead of migrating for minutes.
$(LS_STAMP): constraints.txt
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LS_VENV)/bin/python -m pip install --quiet -c constraints.txt label-studio
	rm -rf $(LS_VENV)/template
	LABEL_STUDIO_USERNAME= LABEL_STUDIO_PASSWORD= LATEST_VERSION_CHECK=false \
		$(LS_VENV)/bin/label-studio init --quiet --data-dir $(LS_VENV)/template > $(LS_VENV)/template.log 2>&1
	touch $(LS_STAMP)

install: $(STAMP) $(LS_STAMP) ## create .venv (stance, dev tools, pyspark; torch pinned to the CPU build) and .venv-label-studio

train: $(STAMP) ## validate labels/, train every model family, log to MLflow, register and export the champion
	$(BIN)/stance labels check
	$(BIN)/stance train

ui: $(STAMP) ## start the MLflow UI on 127.0.0.1 against the project's tracking store
	@echo "MLflow UI: http://127.0.0.1:$(UI_PORT)  (store: $(MLFLOW_TRACKING_URI))"
	$(BIN)/mlflow ui --backend-store-uri "$(MLFLOW_TRACKING_URI)" --host 127.0.0.1 --port $(UI_PORT)

serve: $(STAMP) ## serve the article-level model (models/pipeline) with `mlflow models serve` on 127.0.0.1
	@test -e "$(SERVE_MODEL)" || case "$(SERVE_MODEL)" in *:/*) ;; *) echo "no model at $(SERVE_MODEL): run \`make train\` first (or SERVE_MODEL=models:/stance-pipeline@champion)"; exit 2;; esac
	@echo "Scoring server: curl -H 'Content-Type: application/json' -d @article.json http://127.0.0.1:$(SERVE_PORT)/invocations"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/mlflow models serve -m "$(SERVE_MODEL)" --env-manager local --host 127.0.0.1 --port $(SERVE_PORT)

server: $(STAMP) ## start a team tracking server (SQLite + artifacts under .mlflow-server/) on 127.0.0.1
	@mkdir -p $(SERVER_DIR)/artifacts
	@echo "Tracking server: export MLFLOW_TRACKING_URI=http://127.0.0.1:$(SERVER_PORT)"
	$(BIN)/mlflow server --backend-store-uri "sqlite:///$(abspath $(SERVER_DIR))/mlflow.db" \
		--artifacts-destination "$(abspath $(SERVER_DIR))/artifacts" --host 127.0.0.1 --port $(SERVER_PORT) --workers $(SERVER_WORKERS)

test: $(STAMP) $(LS_STAMP) ## run the test suite (tiny models, temporary tracking stores)
	$(BIN)/python -m pytest -q

lint: $(STAMP) ## ruff check and ruff format --check over src/ and tests/
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

bench: $(STAMP) ## measure training time, test metrics, scoring throughput, memory, start-up → benchmarks/results.json
	$(BIN)/stance bench

evaluate: $(STAMP) ## end-to-end evaluation of the champion on the labelled test documents
	$(BIN)/stance evaluate

score-examples: $(STAMP) ## score the articles in examples/ with the champion
	$(BIN)/stance score examples/

report: $(STAMP) ## build reports/report.html (+ PNG figures, GraphML) from examples/
	$(BIN)/stance report examples/ --out reports/report.html --png reports/figures --graphml reports/positions.graphml

label: $(STAMP) $(LS_STAMP) ## Label Studio on 127.0.0.1 (PORT=8080) with the stance project; TASKS=tasks.json adds tasks
	$(BIN)/stance labels studio --port $(PORT) $(if $(TASKS),--tasks $(TASKS))

clean: ## remove the virtual environment, caches and the local tracking store
	rm -rf $(VENV) $(LS_VENV) .pytest_cache .ruff_cache mlflow.db mlartifacts models/champion models/pipeline reports
