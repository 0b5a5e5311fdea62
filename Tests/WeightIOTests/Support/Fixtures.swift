import Engine
import Foundation
import XCTest
@_exported import TestSupport
@testable import WeightIO

/// A file under Tests/Fixtures/weights.
func weightFixture(_ name: String) -> URL { fixtureURL("weights/" + name) }

/// The float32 values Keras held, written by tools/make_weight_fixtures.py as
/// `expected_<set>/<layer>_<weight>.npy`.
func expectedWeight(_ set: String, _ layer: String, _ weight: String) throws -> Tensor {
    try NPY.read(weightFixture("expected_\(set)/\(layer)_\(weight).npy"))
}

/// The WeightFileError `body` throws; fails the test when it throws nothing or something else.
func expectWeightFileError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line)
    -> WeightFileError? {
    do {
        try body()
        XCTFail("expected a WeightFileError, nothing was thrown", file: file, line: line)
    } catch let e as WeightFileError {
        return e
    } catch {
        XCTFail("expected a WeightFileError, got \(error)", file: file, line: line)
    }
    return nil
}

/// Weights of the Keras fixture model conv(3x3, 3->4) -> bn -> flatten -> dense(144->5), Keras order.
let tinyWeights: [(layer: String, weights: [String])] = [
    ("conv", ["kernel", "bias"]),
    ("bn", ["gamma", "beta", "moving_mean", "moving_variance"]),
    ("dense", ["kernel", "bias"]),
]
