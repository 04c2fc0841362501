# The two commands of the README: `make run` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: install run test histories bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

# The whole stack (`claims up`): Temporal dev server (persistent, in the data directory)
# with its Web UI, and a worker. Ctrl-C stops everything.
run: install
	$(BIN)/claims up

test: install
	$(BIN)/python -m pytest

# Record the workflow histories that the replay test replays. Writes only histories that do
# not exist yet (tests/histories/claim-NAME.json): recorded ones are never overwritten.
histories: install
	RECORD_HISTORIES=1 $(BIN)/python -m pytest tests/test_claim_lifecycle.py tests/test_claim_deadlines.py \
		tests/test_seed_workflows.py tests/test_seed_readings.py tests/test_engine.py tests/test_read_model.py

# Benchmarks (not tests): each prints its figures and a ratio against a baseline measured in
# the same run. Results and the machine they ran on: bench/README.md.
bench: install
	$(BIN)/python -m bench.events_per_claim

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
