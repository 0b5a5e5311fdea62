import Engine
import Foundation
import XCTest
@testable import WeightIO

/// A real Keras `model.save('x.h5')` file of ResNet50 (tools/make_full_model_fixture.py: the
/// Keras Applications graph, filters divided by 64), whose 152 KB `model_config` is over HDF5's
/// 64 KB limit for an attribute stored in the object header.
final class FullModelFileTests: XCTestCase {
    let source = weightFixture("keras_resnet50_full.h5")

    func testConvertingKeepsEveryWeightAndTheLongModelConfig() throws {
        let config = try XCTUnwrap(try HDF5File.open(source).root().stringAttribute("model_config"))
        XCTAssertGreaterThan(config.utf8.count, 65536)
        XCTAssertTrue(config.contains("\"conv5_block3_out\""), "the whole ResNet50 graph")

        let out = try temporaryDirectory(self).appendingPathComponent("converted.h5")
        try WeightWriter.write(try WeightFile.read(source), to: out)

        let root = try HDF5File.open(out).root()
        XCTAssertEqual(try root.stringAttribute("model_config"), config, "written whole, as h5py writes it")
        let expected = Dictionary(uniqueKeysWithValues: try NPZ.read(weightFixture("expected_resnet50_full.npz"))
            .map { ($0.name, $0.tensor) })
        let converted = try WeightFile.read(out)
        var compared = 0
        for layer in converted.layers {
            for weight in layer.weights {
                XCTAssertEqual(weight.value, expected[weight.name], "\(weight.name): Keras's values, bit for bit")
                compared += 1
            }
        }
        XCTAssertEqual(compared, expected.count, "every weight Keras saved")
        XCTAssertEqual(expected.count, 320, "ResNet50's 53 convolutions, 53 batch norms and the dense layer")
    }

    func testAStringOverTheAttributeLimitIsStoredAsAVariableLengthString() throws {
        let long = String(repeating: "x", count: kerasAttributeLimit + 1)
        let data = try HDF5File.makeImage(name: "long", sizeHint: 0) { root in
            try root.setAttribute("long", .string(long))
            try root.setAttribute("short", .string("kept fixed-length"))
        }
        let url = try temporaryDirectory(self).appendingPathComponent("long.h5")
        try data.write(to: url)
        let root = try HDF5File.open(url).root()
        XCTAssertEqual(try root.stringAttribute("long"), long)
        XCTAssertEqual(try root.stringAttribute("short"), "kept fixed-length")
    }
}
