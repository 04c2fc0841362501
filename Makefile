# The two commands of the README: `make run` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: install run test histories bench faults clean messages vendor

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
# not exist yet (tests/histories/claim-NAME.json, complaint-NAME.json): recorded ones are never overwritten.
# tests/test_history_corpus.py names the policies and paths still without one; record them
# from tests/test_corpus_paths.py. CI replays them all: `claims replay --dir tests/histories`.
histories: install
	RECORD_HISTORIES=1 $(BIN)/python -m pytest tests/test_claim_lifecycle.py tests/test_claim_deadlines.py \
		tests/test_seed_workflows.py tests/test_seed_readings.py tests/test_engine.py tests/test_read_model.py \
		tests/test_corpus_paths.py tests/test_complaints.py

# Benchmarks (not tests): each prints its figures and a ratio against a baseline measured in
# the same run. Results and the machine they ran on: bench/README.md.
bench: install
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.events_per_claim
	$(BIN)/python -m bench.open_claims
	$(BIN)/python -m bench.replay
	$(BIN)/python -m bench.list_latency
	$(BIN)/python -m bench.projection
	$(BIN)/python -m bench.web_load
	$(BIN)/python -m bench.cli_startup

# The long fault tests (tests/test_faults.py): more claims, more SIGKILLed workers, and the
# notification lost with a killed worker waited for. The short ones run in `make test`.
faults: install
	CLAIMFLOW_FAULTS_LONG=1 $(BIN)/python -m pytest -p no:cacheprovider -rxX tests/test_faults.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

# The web UI's strings: extract them from web/ into web/locale/messages.pot and bring the
# Chinese catalogue up to date (then translate the new entries in its .po file).
messages: install
	$(BIN)/pybabel extract -F web/babel.cfg -k N_ --no-location --sort-output -o web/locale/messages.pot .
	test -f web/locale/zh_Hans_CN/LC_MESSAGES/messages.po \
		|| $(BIN)/pybabel init -i web/locale/messages.pot -d web/locale -l zh_Hans_CN
	$(BIN)/pybabel update -i web/locale/messages.pot -d web/locale -l zh_Hans_CN --no-fuzzy-matching

# Front-end files from the npm registry, pinned in web/static/vendor/package.json.
vendor:
	cd /tmp && rm -rf claimflow-vendor && mkdir claimflow-vendor && cd claimflow-vendor \
		&& npm pack --silent htmx.org@$$(python3 -c 'import json;print(json.load(open("$(CURDIR)/web/static/vendor/package.json"))["dependencies"]["htmx.org"])') \
		&& tar xzf htmx.org-*.tgz && cp package/dist/htmx.min.js package/LICENSE $(CURDIR)/web/static/vendor/htmx/
