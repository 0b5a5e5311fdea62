# ConvZoo: `make demo` runs the main job, `make test` runs the tests.
# One release build with testing enabled serves the tests, the demo and the benchmarks,
# so CI compiles the code once.
SWIFT_FLAGS := -c release -Xswiftc -enable-testing
BIN := .build/release/zoo

.PHONY: deps build test demo bench lenet5-weights clean

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

# Reproduces the shipped weights/lenet5-digits.h5 (and its curves): LeNet-5 trained from scratch
# on the bundled digits, 20 epochs, seed 7 (about 3 s on 2 cores).
lenet5-weights: build
	$(BIN) finetune --model lenet5 --data datasets/digits --out weights/lenet5-digits.h5 \
		--checkpoints .build/lenet5-digits.checkpoints --epochs 20 --lr 2e-3 --preprocessing tf --seed 7

clean:
	rm -rf .build
