# Two commands for a newcomer: `make run` (the demo) and `make test` (every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-smoke bench-app bench-app-smoke bench-secrets bench-secrets-smoke bench-images bench-images-smoke bench-rego bench-rego-smoke bench-cel bench-cel-smoke bench-kyverno bench-kyverno-smoke bench-kyverno-cel bench-kyverno-cel-smoke clean

$(STAMP): pyproject.toml requirements/regorus.txt requirements/cel.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/regorus.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/cel.txt
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Prints the report for the bundled example repository. Its findings are planted on
# purpose, so exit code 1 ("findings") is success here; 2 (usage/config error) is not.
run: $(STAMP)
	@$(BIN)/gitops-gate check examples/demo; rc=$$?; test $$rc -le 1

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py --manifests 1000

# A quick run of the benchmark so CI notices when it breaks (figures are not judged).
bench-smoke: $(STAMP)
	$(BIN)/python bench/run.py --manifests 200 --smoke

# The GitHub App against the emulator: latency, API calls per PR, webhook load, memory.
bench-app: $(STAMP)
	$(BIN)/python -m bench.app_bench

bench-app-smoke: $(STAMP)
	$(BIN)/python -m bench.app_bench --smoke

# Secret scanning on a labeled corpus, beside detect-secrets: precision, recall, files/s.
bench-secrets: $(STAMP)
	$(BIN)/python -m bench.secrets_bench --files 2000

bench-secrets-smoke: $(STAMP)
	$(BIN)/python -m bench.secrets_bench --smoke

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# cosign signature checks against a loopback registry: 200 images cold and from the cache.
bench-images: $(STAMP)
	$(BIN)/python -m bench.images_bench

bench-images-smoke: $(STAMP)
	$(BIN)/python -m bench.images_bench --smoke

# Rego: the built-in library against 1,000 documents, beside conftest's per-rule query path.
bench-rego: $(STAMP)
	$(BIN)/python -m bench.rego_bench --documents 1000

bench-rego-smoke: $(STAMP)
	$(BIN)/python -m bench.rego_bench --smoke

# CEL: per-expression evaluation time of typical Kyverno policy expressions.
bench-cel: $(STAMP)
	$(BIN)/python -m bench.cel_bench

bench-cel-smoke: $(STAMP)
	$(BIN)/python -m bench.cel_bench --smoke

# Kyverno: 100 policies against 1,000 manifests, compiled once.
bench-kyverno: $(STAMP)
	$(BIN)/python -m bench.kyverno_bench

bench-kyverno-smoke: $(STAMP)
	$(BIN)/python -m bench.kyverno_bench --smoke

# Kyverno CEL: 100 CEL policies (ValidatingPolicy and validate.cel) against 1,000 manifests.
bench-kyverno-cel: $(STAMP)
	$(BIN)/python -m bench.kyverno_cel_bench

bench-kyverno-cel-smoke: $(STAMP)
	$(BIN)/python -m bench.kyverno_cel_bench --smoke
