import Foundation
import XCTest
@testable import Engine

/// The repository's bundled digits (datasets/digits), found from this file's path.
func digitsDirectory() -> URL {
    repositoryRoot.appendingPathComponent("datasets/digits")
}

private let loadedDigits = Result { try Digits.load(from: digitsDirectory()) }

/// The raw digits (n, 8, 8, 1), read once per test process.
func bundledDigits() throws -> LabeledData { try loadedDigits.get() }

/// A multilayer perceptron `widths[0] -> ... -> widths.last`, hidden layers with `activation` and
/// optional dropout, the output linear (logits). Weights drawn from a generator seeded with `seed`.
func makeMLP(_ widths: [Int], activation: Activation = .relu, dropout: Float = 0, seed: UInt64,
             initializer: Initializer = .glorotUniform) -> Sequential {
    RandomGenerator.global.reseed(seed)
    var layers: [Layer] = []
    for i in 0..<(widths.count - 1) {
        let last = i == widths.count - 2
        layers.append(Dense(name: "dense\(i + 1)", inputFeatures: widths[i], units: widths[i + 1],
                            activation: last ? .linear : activation, initializer: initializer))
        if !last && dropout > 0 { layers.append(Dropout(name: "dropout\(i + 1)", rate: dropout)) }
    }
    return Sequential(name: "mlp", layers)
}

/// Bitwise equality of every weight (parameters and state) of two models of the same structure.
func assertSameWeights(_ a: Layer, _ b: Layer, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    let wa = a.allWeights, wb = b.allWeights
    XCTAssertEqual(wa.count, wb.count, message, file: file, line: line)
    for (x, y) in zip(wa, wb) where x.value != y.value {
        XCTFail("\(message): weight '\(x.name)' differs", file: file, line: line)
        return
    }
}

/// A record without its wall-clock time, for bitwise comparisons of runs.
func timeless(_ records: [EpochRecord]) -> [EpochRecord] {
    records.map { var r = $0; r.seconds = 0; return r }
}
