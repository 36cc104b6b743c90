# nas: Neural Architecture Search with Reinforcement Learning, in Go.
# `make` (or `make help`) lists the targets.

SHELL := /bin/bash
GO ?= go
# ORT_LIB: the ONNX Runtime shared library. Default: the CPU build `make ort` fetches.
# Point it at your own build (e.g. an ORT GPU build) to use that one instead.
ORT_DIR := $(CURDIR)/.ort
ORT_LIB ?= $(ORT_DIR)/libonnxruntime.so.1
DATA_DIR ?= $(CURDIR)/.data
export NAS_ORT_LIB := $(ORT_LIB)
export NAS_DATA := $(DATA_DIR)

.DEFAULT_GOAL := help
.PHONY: help build ort data search seeds cell-search compare cell-compare serve test-deps test test-short golden lint bench proto fuzz clean uplot screenshots

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the nas command into bin/nas
	$(GO) build -o bin/nas ./cmd/nas

ort: ## fetch the ONNX Runtime 1.30.0 CPU library into .ort/ (skipped when ORT_LIB is your own)
ifeq ($(ORT_LIB),$(ORT_DIR)/libonnxruntime.so.1)
	@scripts/fetch-ort.sh $(ORT_DIR)
else
	@test -f "$(ORT_LIB)" || { echo "ORT_LIB=$(ORT_LIB) does not exist" >&2; exit 1; }
endif

data: ## fetch Fashion-MNIST, MNIST, the Brown corpus and fortunes into .data/ (checksums verified)
	@scripts/fetch-data.sh $(DATA_DIR)

# The main job: a real search on Fashion-MNIST (space v3, with max pooling), then the final training of its
# best architecture, within a 14-minute budget: the sampling gets at least 40% of it, the final training the rest
# (--final-share), as many epochs of its candidate as are predicted to fit, with both cores. The controller
# learning rate suits a few hundred trials. Measured by make seeds (README, "Two commands"): 13m18s-14m1s on
# 2 cores, test accuracy 0.897-0.912 over seeds 1-3.
RUN ?= runs/search-$(shell date +%Y%m%d-%H%M%S)
SEARCH_FLAGS ?= --data fashion-mnist --space v3 --trials 200 --duration 14m --train-size 5000 --val-size 1000 \
	--epochs 1 --start-layers 3 --layer-step 1 --layer-every 48 --controller-lr 0.02 \
	--final-k 1 --final-epochs 20 --final-share 0.6

search: build ort data ## the main job: a real search on Fashion-MNIST, then the final training (within 15 min; RUN=dir, SEARCH_FLAGS=...)
	bin/nas search --dir $(RUN) $(SEARCH_FLAGS)

seeds: build ort data ## the main job over seeds 1-3 beside a hand-designed CNN trained as long (about 1 h; runs/seeds/table.md)
	SEARCH_FLAGS='$(SEARCH_FLAGS)' scripts/seeds.sh

# The paper's second half: a cell search for a character-level language model on Debian's fortunes, in about
# 12 minutes on 2 cores (a 12-minute budget, then the iteration in flight and the test perplexity: 12m11s measured).
CELL_RUN ?= runs/cells-$(shell date +%Y%m%d-%H%M%S)
CELL_FLAGS ?= --space cell8 --data fortunes --train-size 200000 --val-size 20000 --epochs 1 --duration 12m \
	--trials 400 --controller-lr 0.02

cell-search: build ort data ## a real cell search for a language model on fortunes (about 12 min; CELL_RUN=dir, CELL_FLAGS=...)
	bin/nas search --dir $(CELL_RUN) $(CELL_FLAGS)

compare: build ort ## rl vs random vs evolution, same budget, 3 seeds, on the digits fixture (runs/compare/table.md); rl with and without the rungs, same duration (runs/mfcompare/table.md)
	scripts/compare.sh
	scripts/mfcompare.sh

cell-compare: build ort data ## the cell search: rl vs random vs evolution, and the LSTM and NASCell, 3 seeds, on fortunes (runs/cellcompare/table.md)
	scripts/cellcompare.sh

RUNS ?= $(patsubst %/nas.db,%,$(wildcard runs/*/nas.db runs/*/*/nas.db))
LISTEN ?= 127.0.0.1:8080

serve: build ## the live web view of every run under runs/ (RUNS='dir...', LISTEN=host:port)
	@test -n "$(RUNS)" || { echo "no run under runs/: make search or make compare first, or RUNS='dir...'" >&2; exit 1; }
	bin/nas serve --listen $(LISTEN) $(RUNS)

test-deps: ## install the test references (Debian python3-onnx, python3-torch with OpenBLAS, graphviz, chromium)
	@scripts/test-deps.sh

test: test-deps ort data ## everything the tests need, then all tests
	$(GO) test -count=1 ./...

test-short: ort ## the fast tests only (go test -short)
	$(GO) test -short ./...

golden: ## rewrite the golden files of onnxgen (review the diff!)
	$(GO) test ./onnxgen -run Golden -update

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: test-deps ort data ## benchmarks: compiler, controller, data; then child training (a step, a whole child, language models) beside PyTorch
	$(GO) test -run '^$$' -bench . -benchmem ./onnxgen ./controller ./internal/...
	bench/compare.sh
	bench/childcompare.sh
	bench/lmcompare.sh

fuzz: ort ## run each fuzz target for 30 s (the parsers; the compiler and ORT on what parses)
	$(GO) test ./onnxgen -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 30s
	$(GO) test ./onnxgen -run '^$$' -fuzz '^FuzzParseCell$$' -fuzztime 30s
	$(GO) test ./runner -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime 30s
	$(GO) test ./internal/dataset -run '^$$' -fuzz '^FuzzIDX$$' -fuzztime 30s
	$(GO) test ./internal/dataset -run '^$$' -fuzz '^FuzzCIFAR10$$' -fuzztime 30s
	$(GO) test ./internal/text -run '^$$' -fuzz '^FuzzPTB$$' -fuzztime 30s
	$(GO) test ./internal/text -run '^$$' -fuzz '^FuzzBrown$$' -fuzztime 30s
	$(GO) test ./internal/text -run '^$$' -fuzz '^FuzzFortunes$$' -fuzztime 30s

proto: ## regenerate onnxgen/onnxpb from Debian's onnx.proto (needs protoc and libonnx-dev; protoc-gen-go from go.mod)
	$(GO) build -o bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	sed -e 's/^package onnx;/package nas.onnx;/' /usr/include/onnx/onnx.proto > onnxgen/onnxpb/onnx.proto
	cd onnxgen/onnxpb && protoc --plugin=protoc-gen-go=$(CURDIR)/bin/protoc-gen-go --go_out=. --go_opt=paths=source_relative \
		--go_opt=Monnx.proto=github.com/nas-project/nas/onnxgen/onnxpb onnx.proto

uplot: ## re-fetch the chart library of nas serve (uPlot, pinned version and sha256) into internal/serve/static/vendor
	@scripts/fetch-uplot.sh

screenshots: test-deps ## PNGs of nas serve's main views (docs/screenshots/), from demo runs in headless chromium
	NAS_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestScreenshots$$' ./internal/serve

clean: ## remove built binaries (keeps .ort and .data)
	rm -rf bin
