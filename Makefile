# kefu: two commands. `make run` serves the assistant; `make test` proves it works.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY := .venv/bin/python
RASA := RASA_TELEMETRY_ENABLED=false .venv/bin/rasa
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export KEFU_ACTION_SERVER_URL ?= http://127.0.0.1:5055/webhook
# endpoints.yml names the action server secret; rasa test loads it (scripts/secret.sh keeps it)
export KEFU_ACTION_SECRET ?= $(shell scripts/secret.sh action_secret)

.PHONY: help setup train db run run-cluster shell test lint format unit validate test-nlu test-stories gate bench demo-report lock clean reset-demo

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup:  ## create .venv with Python 3.10 and the locked dependencies (seconds when up to date)
	@scripts/setup.sh

train: setup  ## train the model if data, config or plug-ins changed
	@$(PY) scripts/train_if_stale.py

run: train  ## start the action server and the Rasa server (REST, socket.io, HTTP API)
	@scripts/run.sh server

run-cluster: train  ## 2 Rasa instances + 2 action servers behind HAProxy on PostgreSQL, Redis, RabbitMQ
	@scripts/haproxy_deps.sh
	@$(PY) -m scripts.cluster

shell: train  ## chat with the assistant in the terminal
	@scripts/run.sh shell

lint: setup  ## ruff lint and format check
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: setup  ## apply ruff formatting and safe fixes
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

unit: setup  ## unit tests (shop library, plug-ins, actions); no trained model needed
	$(PY) -m pytest -q -m "not model" --durations=15

db: setup  ## create or migrate the shop database and load the demo shop into an empty one
	@.venv/bin/kefu db upgrade
	@.venv/bin/kefu demo load --if-empty

validate: setup  ## rasa data validate --fail-on-warnings
	$(RASA) data validate --fail-on-warnings

test-nlu: train db  ## evaluate NLU on the held-out test sets in tests/nlu/
	@rm -rf results/nlu
	$(RASA) test nlu --nlu tests/nlu --out results/nlu --successes
	@cp results/nlu/intent_report.json results/intent_report.json

gate: ## fail when per-language intent macro-F1 < 0.90 or any intent F1 < 0.75
	$(PY) scripts/nlu_gate.py --results results/nlu

test-stories: train db  ## end-to-end test stories, failing on any prediction error
	@rm -rf results/stories
	$(RASA) test core --stories tests/stories --out results/stories --fail-on-prediction-errors

test-model: train  ## tests that talk to the trained model and the running servers
	@scripts/browser_deps.sh
	@scripts/haproxy_deps.sh
	$(PY) -m pytest -q -m model --durations=15

TEST_STEPS := lint unit validate train test-nlu gate test-stories test-model
test: setup  ## everything CI runs (TEST_STEPS), each step timed
	@scripts/timed_steps.sh $(TEST_STEPS)

bench: train  ## latency, throughput, memory, training time; side by side with stock rasa; search at 100k; recommender; 1 vs 2 instances
	$(PY) -m benchmarks.bench
	$(PY) -m benchmarks.sidebyside
	$(PY) -m benchmarks.search_bench
	$(PY) -m benchmarks.recommend
	$(PY) -m benchmarks.adversarial
	$(PY) -m scripts.longtail_eval
	$(PY) -m benchmarks.privacy_bench
	@scripts/haproxy_deps.sh
	$(PY) -m benchmarks.cluster

demo-report: train  ## send the demo customers' conversations through the bot, then `kefu report`
	$(PY) -m scripts.demo_report --out results/report.html

lock: setup  ## re-resolve requirements.in into requirements.lock
	scripts/lock.sh

clean:  ## remove models, results and logs; never databases, keys, secrets or backups
	rm -rf models/*.tar.gz models/*.fingerprint results
	rm -f .kefu/*.log .kefu/*.out

reset-demo:  ## delete the local demo databases (refused in production or with KEFU_DB_URL)
	@if [ "$${KEFU_PROFILE:-}" = production ] || [ -n "$${KEFU_DB_URL:-}" ]; then \
	  echo "reset-demo: refused: this is not the local demo (KEFU_PROFILE / KEFU_DB_URL)" >&2; \
	  exit 1; fi
	rm -f .kefu/shop.db .kefu/shop.db-* .kefu/trackers.db .kefu/trackers.db-*
