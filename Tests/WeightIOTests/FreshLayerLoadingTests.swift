import Engine
import Foundation
import XCTest
@testable import WeightIO

/// `LoadOptions.freshLayers`: a new head keeps its built weights whatever the file holds for it,
/// in every matching mode, while the rest loads as usual (fine-tuning's head replacement).
final class FreshLayerLoadingTests: XCTestCase {
    func testAFreshHeadOfAnotherShapeIsLeftAsBuiltInEveryFormatAndMode() throws {
        let cases: [(String, [String], LoadReport.Matching)] = [
            ("keras2_root.h5", ["conv", "bn", "dense"], .name),
            ("keras3_tiny.keras", ["conv", "bn", "dense"], .name),
            ("keras2_root.h5", ["c1", "b1", "d1"], .order),        // names differ: by position
            ("keras3_tiny.weights.h5", ["c1", "b1", "d1"], .keras3Key),
        ]
        for (fixture, names, matching) in cases {
            let model = tinyEngineModel(names: names, units: 7)
            let head = try XCTUnwrap(model.layer(named: names[2]))
            let built = snapshot(head)
            let report = try model.loadWeights(from: weightFixture(fixture), options: LoadOptions(freshLayers: [names[2]]))
            XCTAssertEqual(report.matching, matching, fixture)
            XCTAssertEqual(report.loaded.map(\.layer), Array(names.prefix(2)), fixture)
            XCTAssertEqual(report.fresh, [names[2]], fixture)
            XCTAssertEqual(report.shapeMismatches, [], fixture)
            XCTAssertEqual(snapshot(head), built, "\(fixture): the head keeps its built weights")
            try assertTinyModel(model, names: names, only: 2)
            XCTAssertTrue(report.description.contains("new, left as built: \(names[2])"), report.description)
        }
    }

    func testAFreshHeadOfTheSameShapeIsNotLoadedEither() throws {
        let model = tinyEngineModel()
        let head = try XCTUnwrap(model.layer(named: "dense"))
        let built = snapshot(head)
        let report = try model.loadWeights(from: weightFixture("keras2_root.h5"), options: LoadOptions(freshLayers: ["dense"]))
        XCTAssertEqual(report.loaded.map(\.layer), ["conv", "bn"])
        XCTAssertEqual(snapshot(head), built)
        XCTAssertNotEqual(head.weights[0].value, try expectedWeight("tiny", "dense", "kernel"), "the file's head differs")
    }

    func testAFileWithoutTheHeadLoadsStrictlyByName() throws {
        // The file has conv, bn and dense; the model adds a fresh layer the file never had.
        let model = tinyEngineModel()
        let extra = Dense(name: "new_head", inputFeatures: 5, units: 3)
        model.append(extra)
        let built = snapshot(extra)
        let report = try model.loadWeights(from: weightFixture("keras2_root.h5"), options: LoadOptions(freshLayers: ["new_head"]))
        XCTAssertEqual(report.matching, .name)
        XCTAssertEqual(report.loaded.map(\.layer), ["conv", "bn", "dense"])
        XCTAssertEqual(report.fresh, ["new_head"])
        XCTAssertEqual(report.inModelNotInFile, [])
        XCTAssertEqual(snapshot(extra), built)
        try assertTinyModel(model)
    }

    /// The first `only` layers hold the fixture's values.
    func assertTinyModel(_ model: Layer, names: [String], only: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        for ((kerasLayer, weights), engineName) in zip(tinyWeights, names).prefix(only) {
            let layer = try XCTUnwrap(model.layer(named: engineName), file: file, line: line)
            XCTAssertEqual(layer.weights.map(\.name), weights, file: file, line: line)
            for p in layer.weights {
                XCTAssertEqual(p.value, try expectedWeight("tiny", kerasLayer, p.name), "\(engineName).\(p.name)",
                               file: file, line: line)
            }
        }
    }

    func assertTinyModel(_ model: Layer) throws {
        try assertTinyModel(model, names: ["conv", "bn", "dense"], only: 3)
    }
}
