import Foundation
@testable import Engine

/// One layer fixture case: the .npy files tools/make_layer_fixtures.py wrote in
/// Tests/Fixtures/layers/<group>/<name>/ (input, kernel, bias, output, upstream, *_grad).
struct LayerFixture {
    let name: String
    let directory: String

    init(_ group: String, _ name: String) throws {
        self.name = "\(group)/\(name)"
        directory = "layers/\(group)/\(name)"
        guard FileManager.default.fileExists(atPath: fixtureURL(directory).path) else {
            throw NPY.FormatError(file: fixtureURL(directory).path,
                                  message: "missing fixture case; run tools/make_layer_fixtures.py")
        }
    }

    var hasBias: Bool { FileManager.default.fileExists(atPath: fixtureURL("\(directory)/bias.npy").path) }

    subscript(_ key: String) -> Tensor {
        get throws { try NPY.read(fixtureURL("\(directory)/\(key).npy")) }
    }

    /// Sets the layer's weights from the fixture, refusing a shape or bias mismatch.
    func load(_ kernel: Parameter?, _ bias: Parameter?) throws {
        if let kernel {
            let k = try self["kernel"]
            guard k.shape == kernel.shape else {
                throw NPY.FormatError(file: name, message: "kernel is \(shapeString(k.shape)), layer wants "
                    + shapeString(kernel.shape))
            }
            kernel.value = k
        }
        guard (bias != nil) == hasBias || kernel == nil else {
            throw NPY.FormatError(file: name, message: "layer and fixture disagree on having a bias")
        }
        if let bias {
            let b = try self["bias"]
            guard b.shape == bias.shape else {
                throw NPY.FormatError(file: name, message: "bias is \(shapeString(b.shape)), layer wants "
                    + shapeString(bias.shape))
            }
            bias.value = b
        }
    }
}
