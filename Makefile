# The two commands README starts with: `make demo` (issue 3) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
# Lambda's runtime is python3.13: use it when pyenv or the system has one, else any python3 >= 3.11.
PYTHON_FOR_VENV ?= $(shell for p in python3.13 $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; done)
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
# The venv first on PATH: sam finds its python3.13 and the layer Makefile its pip.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help venv security-scan lint typecheck template-lint workflow-lint lock update-deps check-deps unit integration test build check-build clean openapi demo invoke start-api bench tune cost capacity spike dashboard chaos load

# The workbench (the local Lambda, the scenarios, the labs) is optional: a clone that deletes workbench/
# keeps a service whose `make test` and `make build` pass (.ci/run checks it in a scratch copy).
WORKBENCH := $(wildcard workbench/pyproject.toml)
PY_DIRS := src tests tools testkit $(if $(WORKBENCH),workbench)
MYPY_FILES := src/orders tools testkit/sam_testkit $(if $(WORKBENCH),workbench/src/workbench workbench/labs)
NEED_WORKBENCH = @test -n "$(WORKBENCH)" || { echo "make $@ runs the workbench, and this clone has none (workbench/ was removed)"; exit 2; }

FN ?= ApiFunction
EVENT ?= events/api_post_order.json
ARGS ?=

help:
	@echo "make demo         the whole service end to end, locally (moto + MySQL, no Docker)"
	@echo "make invoke FN=<LogicalId> EVENT=<file> [ARGS='--trace --env-vars my-env.json']"
	@echo "make start-api    the HttpApi routes on http://127.0.0.1:3000"
	@echo "make bench [QUICK=1]  every optimization vs its naive twin: table, bench/results.json, bench/results.png"
	@echo "make tune FN=<LogicalId> EVENT=<file> [MEMORY=128,256,…] [QUICK=1]  local Power Tuning: bench/tune-<FN>.json/.png"
	@echo "make cost [PROFILE=workbench/src/workbench/measure/traffic_profile.json]  monthly cost per memory size, x86/arm64, on-demand/PC"
	@echo "make capacity [RATE=1000] [STAGE=prod] [PROFILE=steady|daily]  orders/s (or a samconfig stage's target) against every quota and setting: bottlenecks, settings, cost"
	@echo "make spike [SPIKE=ramp|steady|daily RATE=1000 STAGE=prod ARGS='--set day_shards=1']  the spike simulated: bench/spike-*.png"
	@echo "make dashboard    after make demo: the template's CloudWatch dashboard drawn from its logs: bench/dashboard.png"
	@echo "make chaos [ORDERS=1000]  orders through API + consumer under injected faults; 0 lost, 0 duplicated"
	@echo "make load [REQUESTS=5000 CLIENTS=50]  concurrent clients against start-api; 0 errors, bounded connections"
	@echo "make test         ruff, mypy, cfn-lint, sam validate --lint, actionlint, the locks, scanners, every test with coverage"
	@echo "make unit         the fast loop: tests needing no MySQL and no local cloud (seconds)"
	@echo "make integration  the tests against MySQL/MariaDB and the local cloud"
	@echo "make lock | update-deps   regenerate the locks from pyproject.toml (keep pins | upgrade within ranges)"
	@echo "make build        sam build (arm64 layer cross-installed) and check the built artifacts"
	@echo "make openapi      regenerate docs/openapi.json (committed; the tests fail when it is stale)"
	@echo "make clean        remove the venv and build output"

PIP_QUIET = 2>&1 | { grep -v "is ignored: it is neither" || true; }; test "$${PIPESTATUS[0]}" = 0
# The locks first (hashes checked), then the test kit and the workbench themselves, editable, nothing downloaded.
$(BIN)/.installed: requirements-dev.txt $(if $(WORKBENCH),workbench/requirements.txt)
	@test -n "$(PYTHON_FOR_VENV)" || { echo "need python3 >= 3.11 (3.13 preferred)"; exit 1; }
	@echo "creating $(VENV) with $(PYTHON_FOR_VENV)"
	$(PYTHON_FOR_VENV) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip $(PIP_QUIET)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt $(PIP_QUIET)
	$(if $(WORKBENCH),$(BIN)/python -m pip install --quiet -r workbench/requirements.txt $(PIP_QUIET))
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e testkit $(if $(WORKBENCH),-e workbench) $(PIP_QUIET)
	touch $@

venv: $(BIN)/.installed

# The scanners live in their own venv: checkov pins boto3 and friends far below what SAM CLI needs.
SCAN_VENV ?= .venv-scan
$(SCAN_VENV)/bin/.installed: requirements-scan.txt
	@test -n "$(PYTHON_FOR_VENV)" || { echo "need python3 >= 3.11"; exit 1; }
	$(PYTHON_FOR_VENV) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet -r requirements-scan.txt $(PIP_QUIET)
	touch $@

# cfripper reads CloudFormation, so it gets the service's template after the SAM transform.
security-scan: $(SCAN_VENV)/bin/.installed venv
	$(SCAN_VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
	@report=$$(mktemp -d) && trap 'rm -rf "$$report"' EXIT && \
	$(SCAN_VENV)/bin/checkov -f template.yaml -f pipeline/github-oidc-role.yaml --framework cloudformation --skip-download \
		--compact --quiet -o cli -o json --output-file-path "console,$$report/checkov.json" && \
	$(SCAN_VENV)/bin/python tools/checkov_parsed.py "$$report/checkov.json"
	@transformed=$$(mktemp -d) && trap 'rm -rf "$$transformed"' EXIT && \
	$(BIN)/python -m sam_testkit.sam_template template.yaml > "$$transformed/template.json" && \
	$(SCAN_VENV)/bin/python tools/cfripper_scan.py "$$transformed/template.json" pipeline/github-oidc-role.yaml

lint: venv
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

typecheck: venv
	$(BIN)/mypy $(MYPY_FILES)

template-lint: venv
	$(BIN)/cfn-lint template.yaml pipeline/github-oidc-role.yaml
	$(BIN)/sam validate --lint --template template.yaml

# Nothing here can run the pipeline: actionlint checks it offline (syntax, expressions, action inputs).
workflow-lint: venv
	$(BIN)/actionlint .github/workflows/*.yml

# The locks (with hashes) from pyproject.toml's declarations: tools/deps.py.
lock: venv
	$(BIN)/python tools/deps.py lock

update-deps: venv
	$(BIN)/python tools/deps.py upgrade
	@echo "locks upgraded within pyproject.toml's ranges: review, make test, commit"

check-deps: venv
	$(BIN)/python tools/deps.py check

# The fast loop: no MySQL, no local cloud, seconds.
unit: venv
	$(BIN)/pytest -q tests/unit tests/template

# What needs MySQL/MariaDB and the local cloud.
integration: venv
	$(BIN)/pytest tests/integration $(if $(WORKBENCH),workbench/tests)

test: lint typecheck template-lint workflow-lint check-deps security-scan
	$(BIN)/pytest --cov --cov-report=term-missing

build: venv
	$(BIN)/sam build --template template.yaml
	$(BIN)/python tools/check_layer.py .aws-sam/build

check-build: venv
	$(BIN)/python tools/check_layer.py .aws-sam/build

openapi: venv
	PYTHONPATH=src $(BIN)/python tools/openapi.py

demo: venv
	$(BIN)/workbench demo

invoke: venv
	$(BIN)/workbench invoke $(FN) -e $(EVENT) $(ARGS)

start-api: venv
	$(BIN)/workbench start-api $(ARGS)

bench: venv
	$(BIN)/workbench bench $(if $(QUICK),--quick,)

ORDERS ?= 1000
chaos: venv
	$(NEED_WORKBENCH)
	$(BIN)/workbench chaos $(ORDERS)

REQUESTS ?= 5000
CLIENTS ?= 50
load: venv
	$(NEED_WORKBENCH)
	$(BIN)/workbench load $(REQUESTS) $(CLIENTS)

MEMORY ?= 128,256,512,1024,1769,3008
tune: venv
	$(BIN)/workbench tune $(FN) $(EVENT) --memory $(MEMORY) $(if $(QUICK),--quick,)

PROFILE ?= workbench/src/workbench/measure/traffic_profile.json
cost: venv
	$(BIN)/workbench cost $(PROFILE)

RATE ?= 1000
capacity: venv
	$(NEED_WORKBENCH)
	$(BIN)/workbench capacity $(if $(filter command line environment,$(origin RATE)),--rate $(RATE)) $(if $(STAGE),--stage $(STAGE)) $(if $(filter command line,$(origin PROFILE)),--profile $(PROFILE)) --results workbench/results.md

dashboard: venv
	$(NEED_WORKBENCH)
	$(BIN)/workbench dashboard $(ARGS)

SPIKE ?= ramp
spike: venv
	$(NEED_WORKBENCH)
	$(BIN)/workbench spike --profile $(SPIKE) $(if $(filter command line environment,$(origin RATE)),--rate $(RATE)) $(if $(STAGE),--stage $(STAGE)) $(ARGS)

clean:
	rm -rf $(VENV) $(SCAN_VENV) .aws-sam .coverage .mypy_cache .ruff_cache .pytest_cache
