# Clockwork: a GNU Make pipeline over plain files, from the raw AI4I 2020 CSV to a
# versioned, evaluated and registered machine-failure model. `make help` lists the targets.
#
# How staleness works: every input (raw file, each code file, requirements.txt, each
# params.yaml section) has a hash stamp under .make/stamps/ that is rewritten only when
# its content hash changes; a ".checked" marker records when the inputs were last hashed.
# Stages depend on stamps, so a touch or a comment edit re-hashes once and rebuilds
# nothing. Each stage writes a pointer under .make/out/ naming the version it produced,
# again only on change, so a stage that reuses an existing version stops the cascade.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules --no-print-directory

PARAMS_FILE := $(or $(value CLOCKWORK_PARAMS),params.yaml)
# File names that make itself handles (prerequisites) are one word of letters, digits and . _ - + / @ , = ~
# (make gives `:`, `%`, `;`, `#` and `$` meanings of its own); each recipe still passes them quoted.
comma := ,
NAME_CHARS := a b c d e f g h i j k l m n o p q r s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V W X Y Z \
              0 1 2 3 4 5 6 7 8 9 . _ - + / @ $(comma) = ~
_unsafe = $(if $(2),$(call _unsafe,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,$(words $(2)),$(2))),$(1))
one_file = $(if $(filter-out 1,$(words $(value $(1))))$(call _unsafe,$(value $(1)),$(NAME_CHARS)),$(error error: $(1): '$(value $(1))' is not one file name (letters, digits and . _ - + / @ $(comma) = ~ only)))
$(if $(value CLOCKWORK_PARAMS),$(call one_file,CLOCKWORK_PARAMS))$(if $(value EXTRA),$(call one_file,EXTRA))
# PARAMS= names the file make init writes; every other target reads the file CLOCKWORK_PARAMS names.
$(if $(and $(filter command line,$(origin PARAMS)),$(value PARAMS),$(filter-out init,$(or $(MAKECMDGOALS),train))),$(error error: PARAMS= names the file make init writes; to run on a params file: CLOCKWORK_PARAMS=file.yaml make $(or $(firstword $(filter-out init,$(MAKECMDGOALS))),train)))
VENV := .venv
PY := $(VENV)/bin/python
# The pipeline's stages, and the short commands that read its records (status, live, monitor,
# registry, verify, ...), run in a warm worker that has imported pandas and scikit-learn once
# (scripts/core/warm.py: started on first use, exits when idle); COLD=1 runs them as plain
# processes. Long-running ones (serve, demo, benchmarks) always run as their own processes.
# (COLD stays exported, so the makes that make demo and make retrain start follow it too.)
STAGE_PY = $(if $(value COLD),$(PY),$(PY) -m scripts.core.warm)
VENV_OK := $(VENV)/.installed
DEV_OK := $(VENV)/.installed-dev
BOOK := .make
S := $(BOOK)/stamps
O := $(BOOK)/out
# Python keeps each project module compiled in its __pycache__ (ignored by git, never hashed or pushed), so a
# process does not compile every module again (a tenth of a second of every stage and command): an
# environment's PYTHONDONTWRITEBYTECODE is cleared.
export PYTHONDONTWRITEBYTECODE :=

# The code each stage runs: its own module and every project module it imports.
# tests/pipeline/test_makefile.py checks these lists against the imports.
SHARED_CODE := scripts/__init__.py scripts/core/__init__.py scripts/core/config.py scripts/core/store.py \
               scripts/core/artifacts.py scripts/pipeline/__init__.py
FEATURES_CODE := scripts/core/features.py scripts/core/contract.py scripts/core/expressions.py
PREPARE_CODE := scripts/pipeline/prepare.py scripts/core/rawdata.py $(FEATURES_CODE) $(SHARED_CODE)
TRAIN_CODE := scripts/pipeline/train.py scripts/core/estimator.py $(FEATURES_CODE) $(SHARED_CODE)
EVALUATE_CODE := scripts/pipeline/evaluate.py scripts/core/metrics.py scripts/core/estimate.py scripts/core/contract.py scripts/core/expressions.py \
                 $(SHARED_CODE)
REGISTER_CODE := scripts/pipeline/register.py scripts/core/registry.py scripts/core/gates.py scripts/core/metrics.py \
                 scripts/core/contract.py scripts/core/expressions.py $(SHARED_CODE)
# What prepare also runs for a retrain version (EXTRA): the reference-epoch rules and the model they fit.
EPOCH_CODE := scripts/core/epoch.py scripts/core/estimator.py scripts/core/gates.py scripts/core/features.py scripts/core/expressions.py
SIMULATE_CODE := scripts/pipeline/simulate.py scripts/pipeline/faults.py scripts/core/features.py scripts/core/expressions.py scripts/core/contract.py \
                 $(SHARED_CODE)
EXPERIMENT_CODE := scripts/pipeline/experiments.py scripts/core/runs.py $(TRAIN_CODE) $(EVALUATE_CODE) $(REGISTER_CODE)

# A make variable's exact text as one shell word, in bash's $'...' quoting with only backslash,
# quote and newline escaped, so neither make nor the shell expands anything in it (quotes,
# backticks, `$(...)`, `$5` and newlines stay text). Every recipe passes user
# values through it, and reads them with $(value ...) only: expanding one would run any
# $(shell ...) it holds. For the same reason they are never exported to the recipes' environment
# (make expands a variable to export it); Python gets them as arguments.
define newline


endef
shq = $$'$(subst $(newline),\n,$(subst ',\',$(subst \,\\,$(1))))'
q = $(call shq,$(value $(1)))
# Not one variable given on the command line is exported, whatever its name, now and later; make
# hands them to the makes a recipe starts through MAKEFLAGS, unexpanded. (tests/pipeline/
# test_variables.py finds every variable this file reads and runs every target on a hostile value.)
unexport $(foreach v,$(.VARIABLES),$(if $(findstring command line,$(origin $(v))),$(v)))
stamp = $(patsubst %,$(S)/%.sha,$(1))
param = $(patsubst %,$(S)/params-%.sha,$(1))
SECTIONS := paths data dataset features model calibration evaluate experiments deployment dashboard simulation scenarios challenger replay monitor retrain synth bench
PARAM_STAMPS = $(call param,$(SECTIONS) $(patsubst %,exp-%,$(EXPERIMENTS)))
INPUT_FILES = $(RAW_FILE) requirements.txt $(sort $(PREPARE_CODE) $(EPOCH_CODE) $(EXPERIMENT_CODE) $(SIMULATE_CODE)) $(value EXTRA)
FILE_STAMPS = $(call stamp,$(INPUT_FILES))

# Goals that need no pipeline state: they must not read params.yaml here (venv and init build the
# venv; init reads params.yaml itself, as the defaults of the file it writes).
LIGHT_GOALS := help dag clean venv test-tools init
ifneq ($(value DAG_ONLY),)
RAW_FILE := <paths.raw>
else ifneq ($(filter-out $(LIGHT_GOALS),$(or $(MAKECMDGOALS),$(.DEFAULT_GOAL))),)
include $(BOOK)/params.mk
# The files each stage's current version consists of, written by the stage (PREPARE_OUTPUTS, ...):
# each stage depends on its own, so a damaged or missing file reruns the stage, which rebuilds it
# from its inputs and checks it against its record. Never a silent "Nothing to be done".
-include $(O)/prepare.mk $(O)/train.mk $(O)/evaluate.mk
# The stages write them; until then there is nothing to make (and no .DEFAULT error for them).
$(O)/prepare.mk $(O)/train.mk $(O)/evaluate.mk: ;
# Two values are inputs too, stamped at parse time by one shell, each only when it changes:
# EXTRA (the labelled production file make retrain passes), so `make train` after
# `make train EXTRA=...` returns to the data version params.yaml describes; and PARAMS_FILE (which
# params file is in force), so switching CLOCKWORK_PARAMS and back re-reads the file and returns
# every stage to its versions. A no-op stays a no-op (no recipe, no Python).
EXTRA_STAMP := $(S)/extra.value
PARAMS_STAMP := $(S)/params.path
_values := $(shell mkdir -p $(S) && stamp() { [ -f "$$1" ] && [ "$$(cat "$$1")" = "$$2" ] || printf '%s' "$$2" > "$$1"; } \
             && stamp $(EXTRA_STAMP) $(call q,EXTRA) && stamp $(PARAMS_STAMP) $(call q,PARAMS_FILE))
endif

##@ Pipeline
.PHONY: train prepare evaluate register
# Every run of the stages is kept in the runs log (scripts/pipeline/runlog.py). Each stage recipe
# notes its name (and the run's start) in $(RUN)/ and keeps the errors it passes through; a stage
# that fails records the run as failed; $(O)/recorded, which depends on every stage, records a
# run that completed. A no-op runs no recipe, so it starts no Python.
RUN := $(BOOK)/run
RECORD = $(STAGE_PY) -m scripts.pipeline.runlog record --out $(O) --run $(RUN) --params $(call q,PARAMS_FILE) --extra $(call q,EXTRA)
# A run is this make process ($$PPID in a recipe): notes another one left were a run killed before it
# could record itself, and are recorded as such first, so each run's stages and duration are its own.
begin = echo ">> $(1)"$(2); mkdir -p $(RUN); \
        if [ -f $(RUN)/started ] && [ "$$(cut -s -d' ' -f3 $(RUN)/started)" != "$$PPID" ]; then $(RECORD) --killed || true; fi; \
        echo $(1) >> $(RUN)/stages; \
        [ -f $(RUN)/started ] || printf '%(%Y-%m-%dT%H:%M:%SZ)T %s %s\n' -1 $${EPOCHREALTIME/./} $$PPID > $(RUN)/started
stage = { { $(1); } 2>&1 1>&3 | tee -a $(RUN)/stderr >&2; } 3>&1 || { status=$$?; $(RECORD) --status $$status; exit $$status; }

train: $(O)/recorded ## Run the whole pipeline (prepare, train, evaluate, register); sets up .venv on first use
$(O)/recorded: $(O)/prepare.done $(O)/train.done $(O)/evaluate.done $(O)/register.done
	@$(RECORD) --status 0
	@touch $@

.PHONY: init
init: $(VENV_OK) ## Declare your own CSV: make init RAW=file.csv TARGET=column [POSITIVE=value] [ID=column] [ORDER=column] [PARAMS=file.yaml]
	@$(PY) -m scripts.pipeline.init --raw $(call q,RAW) --target $(call q,TARGET) $(if $(value PARAMS),--params $(call q,PARAMS)) \
	  $(if $(value POSITIVE),--positive $(call q,POSITIVE)) $(if $(value ID),--id $(call q,ID)) $(if $(value ORDER),--order $(call q,ORDER))

prepare: $(O)/prepare ## Validate the raw CSV and write (or reuse) the data version params.yaml specifies
evaluate: $(O)/evaluate ## Train if stale, then measure the model on its held-out test set
register: $(O)/register ## Gate the evaluated model and record it in models/registry.json

$(O)/prepare: $(O)/prepare.done ;
$(O)/prepare.done: $(call stamp,$(RAW_FILE) $(PREPARE_CODE)) $(call param,paths data dataset features) $(EXTRA_STAMP) $(PREPARE_OUTPUTS) \
                   $(if $(value EXTRA),$(call stamp,$(value EXTRA) $(EPOCH_CODE)) $(call param,retrain model)) | $(O)
	@$(call begin,prepare,$(if $(value EXTRA),' (with '$(call q,EXTRA)')'))
	@$(call stage,$(STAGE_PY) -m scripts.pipeline.prepare --out $(O)/prepare --outputs $(O)/prepare.mk $(if $(value EXTRA),--extra $(call q,EXTRA)) >/dev/null)
	@touch $@

$(O)/train: $(O)/train.done ;
$(O)/train.done: $(O)/prepare $(call stamp,requirements.txt $(TRAIN_CODE)) $(call param,paths data dataset features model) $(TRAIN_OUTPUTS)
	@$(call begin,train)
	@$(call stage,$(STAGE_PY) -m scripts.pipeline.train --data $(O)/prepare --out $(O)/train --outputs $(O)/train.mk >/dev/null)
	@touch $@

$(O)/evaluate: $(O)/evaluate.done ;
$(O)/evaluate.done: $(O)/train $(call stamp,$(EVALUATE_CODE)) $(call param,paths dataset calibration) $(EVALUATE_OUTPUTS)
	@$(call begin,evaluate)
	@$(call stage,$(STAGE_PY) -m scripts.pipeline.evaluate --model $(O)/train --out $(O)/evaluate --outputs $(O)/evaluate.mk >/dev/null)
	@touch $@

$(O)/register: $(O)/register.done ;
$(O)/register.done: $(O)/evaluate $(call stamp,$(REGISTER_CODE)) $(call param,paths dataset evaluate retrain)
	@$(call begin,register)
	@$(call stage,$(STAGE_PY) -m scripts.pipeline.register --model $(O)/evaluate --out $(O)/register >/dev/null)
	@touch $@

##@ Experiments
.PHONY: experiments experiments-table
experiments: $(patsubst %,$(O)/exp-%,$(EXPERIMENTS)) ## Train, evaluate, register each params experiments.grid entry (make -j2 experiments: two at once)
	@$(STAGE_PY) -m scripts.pipeline.experiments table

experiments-table: $(VENV_OK) ## Print the experiments, best first [METRIC=f1|recall|precision|roc_auc|error_rate] [ALL=1]
	@$(STAGE_PY) -m scripts.pipeline.experiments table $(if $(value METRIC),--metric $(call q,METRIC)) $(if $(value ALL),--all)

# One target per experiment: its own params stamp (its effective model section), so editing
# one grid entry reruns that experiment only. The models lock is not held while fitting.
# A run that fails is recorded too (with the error), then make stops as usual.
$(O)/exp-%: $(O)/exp-%.done ;
$(O)/exp-%.done: $(O)/prepare $(call stamp,requirements.txt $(EXPERIMENT_CODE)) $(S)/params-exp-%.sha \
                 $(call param,paths data dataset features calibration evaluate retrain)
	@echo ">> experiment $*"
	@{ $(STAGE_PY) -m scripts.pipeline.train --data $(O)/prepare --experiment $* --out $(O)/exp-$*.train \
	  && $(STAGE_PY) -m scripts.pipeline.evaluate --model $(O)/exp-$*.train --out $(O)/exp-$*.evaluate \
	  && $(STAGE_PY) -m scripts.pipeline.register --model $(O)/exp-$*.evaluate --out $(O)/exp-$*; } >/dev/null 2>$(O)/exp-$*.log; \
	  status=$$?; cat $(O)/exp-$*.log >&2; \
	  if [ $$status -ne 0 ]; then $(STAGE_PY) -m scripts.pipeline.experiments record $* --failed $(O)/exp-$*.log; exit $$status; fi
	@$(STAGE_PY) -m scripts.pipeline.experiments record $* --model $(O)/exp-$*
	@touch $@

##@ Registry
.PHONY: live chunks registry promote rollback runs challenge challenger
runs: $(VENV_OK) ## Every make train run that did something or failed, newest first [ALL=1]
	@$(STAGE_PY) -m scripts.pipeline.runlog show $(if $(value ALL),--all)

live: $(VENV_OK) ## What serves right now and where it came from: version, since when, data, code, params, environment [JSON=1]
	@$(STAGE_PY) -m scripts.inspect.live $(if $(value JSON),--json)

chunks: $(VENV_OK) ## The live model's history in chunks from the latest monitor report: estimated and realized F1, drift, alerts [LAST=N]
	@$(STAGE_PY) -m scripts.inspect.history $(if $(value LAST),--last $(call q,LAST))

registry: $(VENV_OK) ## Show every model version, its status, metrics and gate verdict
	@$(STAGE_PY) -m scripts.pipeline.release show

promote: $(VENV_OK) ## Make a version the production model: make promote VERSION=v3 [REASON="..."] [FORCE=1]
	@$(STAGE_PY) -m scripts.pipeline.release promote $(call q,VERSION) --reason $(if $(value REASON),$(call q,REASON),'manual promotion') \
	  $(if $(value FORCE),--force)

challenge: $(VENV_OK) ## Score a version in shadow beside production: make challenge VERSION=v3 [REASON="..."], or CLEAR=1
	@$(STAGE_PY) -m scripts.pipeline.release challenge $(if $(value VERSION),$(call q,VERSION)) $(if $(filter 1,$(value CLEAR)),--clear) \
	  --reason $(if $(value REASON),$(call q,REASON),'manual challenge')

challenger: $(VENV_OK) ## Compare the challenger with production on the labelled traffic both scored (paired interval)
	@$(STAGE_PY) -m scripts.monitoring.challenger

rollback: $(VENV_OK) ## Return production to the version that was live before the current one
	@$(STAGE_PY) -m scripts.pipeline.release rollback --reason $(if $(value REASON),$(call q,REASON),'manual rollback')

##@ Serving
.PHONY: serve serve-bg stop smoke bench-serve bench synth profile-batch bench-epoch bench-monitor
# A replica (deployment.registry names a remote) serves what that remote's registry names: it builds nothing.
SERVED = $(if $(FOLLOWS),$(VENV_OK),$(O)/recorded)
serve: $(SERVED) ## Serve the production model in the foreground (gunicorn; host, port, workers from params)
	@$(PY) -m scripts.serving.serve $(if $(value PORT),--port $(call q,PORT))

serve-bg: $(SERVED) ## Start the server in the background and wait until /ready answers
	@$(STAGE_PY) -m scripts.serving.serve --background $(if $(value PORT),--port $(call q,PORT))

stop: $(VENV_OK) ## Stop the background server
	@$(STAGE_PY) -m scripts.serving.serve --stop

smoke: $(VENV_OK) ## Send real requests to the running server; non-zero exit on any failure
	@$(STAGE_PY) -m scripts.dev.smoke_test $(if $(value PORT),--port $(call q,PORT))

bench-serve: $(O)/recorded ## Benchmark the server against the model's own predict time [WORKER_CLASS=gthread] [SMOKE=1]
	@$(PY) -m scripts.dev.bench_serve $(if $(value SMOKE),--smoke) $(if $(value WORKER_CLASS),--worker-class $(call q,WORKER_CLASS))

profile-batch: $(O)/recorded ## Where one 3000-row POST /predict spends its time, in-process
	@$(PY) -m scripts.dev.profile_batch

bench-epoch: $(O)/simulate ## How to retrain after a concept drift: F1 of four training sets on each concept scenario's rows
	@$(PY) -m scripts.dev.bench_epoch --data $(O)/prepare --sims $(O)/simulate

bench-monitor: $(VENV_OK) ## How close the monitor's label-free F1 estimates come to the realized F1, per chunk (AI4I and a second table) [SMOKE=1]
	@$(PY) -m scripts.dev.bench_monitor $(if $(value SMOKE),--smoke)

##@ Production loop
.PHONY: simulate replay labels monitor monitor-watch retrain demo scenarios
simulate: $(O)/simulate ## Build the Day-2 datasets (untouched, drifted) from the production window, as data versions

$(O)/simulate: $(O)/simulate.done ;
$(O)/simulate.done: $(O)/prepare $(call stamp,$(SIMULATE_CODE)) $(call param,paths dataset simulation scenarios)
	@echo ">> simulate"
	@$(STAGE_PY) -m scripts.pipeline.simulate --data $(O)/prepare --out $(O)/simulate
	@touch $@

replay: replay-name $(O)/simulate ## Send a dataset through the running API, then record its labels: make replay DATASET=day2_drift
	@$(STAGE_PY) -m scripts.monitoring.replay --dataset $(call q,DATASET) --sims $(O)/simulate $(if $(value PORT),--port $(call q,PORT))

# The dataset's name is checked against params before make simulate builds anything.
.PHONY: replay-name
replay-name: $(VENV_OK)
	@$(STAGE_PY) -m scripts.monitoring.replay --check --dataset $(call q,DATASET) --sims $(O)/simulate

labels: $(VENV_OK) ## Record ground truth from maintenance records: make labels FILE=x.csv (prediction_id,label[,udi])
	@$(STAGE_PY) -m scripts.monitoring.labels --file $(call q,FILE)

monitor: $(VENV_OK) ## Judge the live model: quality vs baseline, drift vs training data; may raise logs/retrain.flag
	@$(STAGE_PY) -m scripts.monitoring.monitor

monitor-watch: $(VENV_OK) ## Rerun the monitor every monitor.watch_interval_s seconds until stopped (Ctrl-C)
	@$(STAGE_PY) -m scripts.monitoring.monitor --watch

retrain: $(O)/recorded ## If the monitor raised a flag (or FORCE=1): retrain on labelled production data, gate, promote [EPOCH=1]
	@$(STAGE_PY) -m scripts.pipeline.retrain --pointer $(O)/train --make "$(MAKE)" $(if $(value FORCE),--force) $(if $(value EPOCH),--epoch)

scenarios: $(VENV_OK) ## The whole loop on each scenario (ONLY=a,b for some) in a throwaway copy [KEEP=1]: diagnosis, action, F1
	@$(PY) -m scripts.dev.scenarios --sims $(O)/simulate $(if $(value PORT),--port $(call q,PORT)) $(if $(value ONLY),--only $(call q,ONLY)) $(if $(value KEEP),--keep)

demo: $(VENV_OK) ## The whole lifecycle in a throwaway copy [KEEP=1]: train, serve, replay, monitor, drift, retrain, recover
	@$(PY) -m scripts.dev.demo $(if $(value PORT),--port $(call q,PORT)) $(if $(value KEEP),--keep)

synth: $(VENV_OK) ## Write a raw file of ROWS rows as params synth.columns declares (AI4I: its published rules) under data/raw/synth/
	@$(PY) -m scripts.pipeline.synth --rows $(call q,ROWS)

bench: $(O)/recorded ## All benchmarks: pipeline overhead, monitor at 1M, F1 per cost, serving [SCALE=1: 10k-1M rows] [SMOKE=1]
	@$(PY) -m scripts.dev.bench $(if $(value SMOKE),--smoke) $(if $(value SCALE),--scale)
	@$(PY) -m scripts.dev.bench_serve $(if $(value SMOKE),--smoke)

##@ Inspect
.PHONY: help dag status metrics metrics-diff params-diff verify verify-all report
report: $(VENV_OK) ## Write the dashboard as one self-contained file, logs/report.html (works offline, no server) [COLUMN= CHUNK=: the distribution shown]
	@$(STAGE_PY) -m scripts.inspect.report $(if $(value COLUMN),--column $(call q,COLUMN)) $(if $(value CHUNK),--chunk $(call q,CHUNK))

help: ## List the targets (this text)
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} \
	     /^[a-zA-Z_-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

dag: ## Print the stage graph, read from this Makefile's own rules
	@{ $(MAKE) -pRrq DAG_ONLY=1 $(O)/register.done 2>/dev/null || true; } | python3 -m scripts.inspect.makeinfo dag --out $(O) --stamps $(S)

status: $(VENV_OK) ## Say which stages are stale and why, and name any generated file that no longer matches its record
	@$(MAKE) stamps >/dev/null
	@{ $(MAKE) -pRrq $(O)/register.done 2>/dev/null || true; } | $(STAGE_PY) -m scripts.inspect.makeinfo status --out $(O) --stamps $(S)
	@$(STAGE_PY) -m scripts.inspect.outputs --cache $(BOOK)/statcache.json
	@$(STAGE_PY) -m scripts.remote.transfer status --quiet-if-none $(REMOTE_ARG) --cache $(BOOK)/statcache.json

metrics: $(VENV_OK) ## Print a table of every model version's metrics
	@$(STAGE_PY) -m scripts.inspect.compare metrics

metrics-diff: $(VENV_OK) ## Show how metrics changed between two versions: make metrics-diff A=v1 B=v2
	@$(STAGE_PY) -m scripts.inspect.compare metrics-diff $(call q,A) $(call q,B)

params-diff: $(VENV_OK) ## Show how params changed between two versions: make params-diff A=v1 B=v2
	@$(STAGE_PY) -m scripts.inspect.compare params-diff $(call q,A) $(call q,B)

verify: $(VENV_OK) ## Refit the production model (or VERSION=vN) from its records in a temp dir; PASS if sha256 matches
	@$(STAGE_PY) -m scripts.inspect.verify $(if $(value VERSION),--version $(call q,VERSION))

verify-all: $(VENV_OK) ## Check the whole chain: raw -> data versions -> models -> registry -> deployment log
	@$(STAGE_PY) -m scripts.inspect.verify --all --pointer $(O)/train

##@ Remotes
.PHONY: push pull objectstore bench-remote gc
REMOTE_ARG = $(if $(value REMOTE),--remote $(call q,REMOTE))
push: $(VENV_OK) ## Send data versions, models, logs and the registry the remote lacks [REMOTE=name-or-URL]
	@$(STAGE_PY) -m scripts.remote.transfer push $(REMOTE_ARG) --cache $(BOOK)/statcache.json

pull: $(VENV_OK) ## Bring back what the remote holds and this clone lacks, each file checked [REMOTE=...] [KEEP=theirs]
	@$(STAGE_PY) -m scripts.remote.transfer pull $(REMOTE_ARG) --cache $(BOOK)/statcache.json $(if $(value KEEP),--keep $(call q,KEEP))

bench-remote: $(O)/recorded $(DEV_OK) ## Time a full and a no-op push and a pull (directory, SeaweedFS S3) [DVC=path/to/dvc: beside dvc push] [SMOKE=1]
	@$(PY) -m scripts.dev.bench_remote $(if $(value SMOKE),--smoke) $(if $(value DVC),--dvc $(call q,DVC))

gc: $(VENV_OK) ## Say which versions' bulky files (joblib, splits) retention lets go and the bytes; CONFIRM=1 deletes [REMOTE=...]
	@$(STAGE_PY) -m scripts.pipeline.gc $(if $(value CONFIRM),--confirm) $(REMOTE_ARG)

objectstore: $(DEV_OK) ## Run a local S3 object store (SeaweedFS) in the foreground, to try an s3:// remote [PORT=8333]
	@$(PY) -m scripts.remote.objectstore $(if $(value PORT),--port $(call q,PORT))

##@ Development
.PHONY: test lint venv test-tools stamps clean
# One pytest-xdist worker more than the machine has cores: every test waits on make, servers or a
# browser part of the time, and the extra worker keeps the cores busy meanwhile.
test: $(DEV_OK) test-tools ## Run the test suite (tests/ mirrors the scripts/ packages; real make, server and browser)
	@$(PY) -m pytest tests -n $$(( $$(nproc 2>/dev/null || echo 1) + 1 )) --dist loadgroup -v --durations=15

lint: $(DEV_OK) ## ruff and every pre-commit hook over all tracked files (offline: local hooks only)
	@git rev-parse --git-dir >/dev/null 2>&1 || { echo "error: make lint: not a git checkout (pre-commit checks tracked files)" >&2; exit 2; }
	@$(PY) -m ruff check scripts tests
	@$(VENV)/bin/pre-commit run --all-files --show-diff-on-failure

venv: $(VENV_OK) ## Create .venv from the pinned requirements.txt (what running needs; make test adds requirements-dev.txt)

# Debian packages the tests drive, installed with apt-get when missing (as root, or with sudo):
# chromium and chromium-driver for the dashboard's browser test (CLOCKWORK_NO_BROWSER=1 skips that
# test and its install), prometheus for its promtool, which checks what /metrics exposes, and
# openssh-server for the SSH remote tests (their sshd runs on a loopback port with throwaway keys).
# Each entry is package:program.
TEST_TOOLS := $(if $(filter 1,$(value CLOCKWORK_NO_BROWSER)),,chromium:/usr/bin/chromium chromium-driver:/usr/bin/chromedriver) \
  prometheus:/usr/bin/promtool openssh-server:/usr/sbin/sshd
test-tools: ## Install the Debian packages the tests drive (chromium, chromium-driver, prometheus, openssh-server), if missing
	@missing=""; for tool in $(TEST_TOOLS); do [ -x "$${tool#*:}" ] || missing="$$missing $${tool%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  echo ">> installing$$missing (Debian packages) for the tests"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo -n"; \
	  { $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || \
	  { echo "error: could not install$$missing (apt-get as root or sudo); install them yourself$(if $(filter 1,$(value CLOCKWORK_NO_BROWSER)),, (CLOCKWORK_NO_BROWSER=1 skips the browser test))" >&2; exit 2; }; \
	fi

stamps: $(FILE_STAMPS) $(PARAM_STAMPS)

clean: ## Remove make's bookkeeping (.make/); versions, models and the registry are kept
	rm -rf $(BOOK)

# ---- machinery -------------------------------------------------------------------------

# The venv markers hold the sha256 of their requirements file: a touch re-hashes, a change
# reinstalls. requirements.txt is what running the product needs; requirements-dev.txt adds
# what the tests and make lint use (make test installs it). pip prints its progress. pip does not
# compile the packages' bytecode (28 s of a 76 s install of both files): Python compiles each module
# the first time it is imported, and only those, and keeps it.
# (scripts.core.stamp imports only the standard library here, so the system python3 runs it.)
$(VENV_OK): requirements.txt
	@if [ ! -x $(PY) ] || ! python3 -m scripts.core.stamp same $< $@; then \
	  if [ ! -x $(PY) ]; then echo ">> setting up $(VENV): creating it with $$(python3 --version)"; \
	    python3 -m venv $(VENV) || { echo "error: python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2; exit 2; }; \
	  fi; \
	  echo ">> setting up $(VENV): installing the $$(grep -c '==' $<) pinned packages of $< (a few minutes the first time)"; \
	  $(PY) -m pip install --disable-pip-version-check --progress-bar off --no-compile -r $< || { echo "error: pip install -r $< failed" >&2; exit 2; }; \
	  echo ">> setting up $(VENV): done"; \
	fi
	@python3 -m scripts.core.stamp file $< $@
	@touch $@

$(DEV_OK): requirements-dev.txt $(VENV_OK)
	@if ! python3 -m scripts.core.stamp same $< $@; then \
	  echo ">> setting up $(VENV) for tests and lint: installing the $$(grep -c '==' $<) pinned packages of $<"; \
	  $(PY) -m pip install --disable-pip-version-check --progress-bar off --no-compile -r $< || { echo "error: pip install -r $< failed" >&2; exit 2; }; \
	  echo ">> setting up $(VENV) for tests and lint: done"; \
	fi
	@python3 -m scripts.core.stamp file $< $@
	@touch $@

# params.yaml: validated, then one stamp per section plus the generated make include.
$(BOOK)/params.mk $(PARAM_STAMPS): $(S)/params.checked ;
$(S)/params.checked: $(PARAMS_FILE) $(PARAMS_STAMP) | $(VENV_OK)
	@mkdir -p $(@D)
	@$(STAGE_PY) -m scripts.core.stamp params $(call q,PARAMS_FILE) $(S) $(BOOK)/params.mk
	@touch $@

# The input files: one process hashes every file that moved since the marker (one Python start
# per build, not one per file). The marker also follows what makes up the list (the Makefile's
# code lists, the raw path in params, EXTRA), so a file that joins the list gets its stamp.
$(FILE_STAMPS): $(S)/inputs.checked ;
$(S)/inputs.checked: $(INPUT_FILES) Makefile $(call param,paths) $(EXTRA_STAMP) | $(VENV_OK)
	@$(PY) -m scripts.core.stamp files $(S) $@ $(foreach f,$(INPUT_FILES),$(call shq,$(f)))


# A missing input is a one-line error, not make's "No rule to make target".
$(PARAMS_FILE) $(RAW_FILE) requirements.txt requirements-dev.txt:
	@echo 'error: '$(call shq,$@)': file not found' >&2; exit 2
scripts/%.py:
	@echo "error: $@: file not found" >&2; exit 2

$(O):
	@mkdir -p $@

# A goal no rule makes (`make trian`): one line naming the nearest targets, not make's "No rule to make
# target"; a file some rule needs and nothing makes is named as missing.
.DEFAULT:
	@if [ -n $(call shq,$(filter $@,$(MAKECMDGOALS))) ]; then \
	  python3 -m scripts.inspect.makeinfo unknown $(call shq,$@) \
	    $$(awk -F: '/^[a-zA-Z_-]+:.*## / {print $$1}' $(MAKEFILE_LIST)); \
	else echo 'error: '$(call shq,$@)': file not found' >&2; fi; exit 2

# A stage's own files (from the includes above): one that is missing counts as changed, so the
# stage reruns and rebuilds it, instead of make stopping on "No rule to make target".
$(PREPARE_OUTPUTS) $(TRAIN_OUTPUTS) $(EVALUATE_OUTPUTS):

# Stamps and markers come from pattern rules, so make would treat them as intermediates and
# delete them; they are real files that later runs compare against. (Only these: a blanket
# .SECONDARY would also stop make from noticing a missing params.yaml.)
.SECONDARY: $(FILE_STAMPS) $(S)/inputs.checked $(patsubst %,$(O)/exp-%.done,$(EXPERIMENTS))
