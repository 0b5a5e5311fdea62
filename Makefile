# ConvZoo: `make demo` runs the main job, `make test` runs the tests.
# One release build with testing enabled serves the tests, the demo and the benchmarks,
# so CI compiles the code once.
SWIFT_FLAGS := -c release -Xswiftc -enable-testing
BIN := .build/release/zoo

.PHONY: deps build test demo bench clean

deps:
	@tools/install-deps.sh

build: deps
	swift build $(SWIFT_FLAGS)

test: deps
	swift build $(SWIFT_FLAGS) --build-tests
	swift test $(SWIFT_FLAGS) --skip-build --disable-swift-testing

demo: build
	$(BIN) demo

bench: build
	$(BIN) bench

clean:
	rm -rf .build
