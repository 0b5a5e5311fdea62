import Foundation

/// A narrow twin's `spec.json`, as tools/make_zoo_fixtures.py writes it under Fixtures/zoo/<name>:
/// the architecture and options it was built with, its input and output, the taps the reference
/// recorded and the parameter counts.
public struct TwinSpec: Decodable {
    public struct Output: Decodable { public let shape: [Int]; public let activation: String }
    public let architecture: String
    public let channel_divisor: Int?
    public let hidden_units: Int?
    public let classes: Int
    public let input_shape: [Int]
    public let output: Output
    public let taps: [String: [Int]]
    public let trainable_params: Int?
    public let total_params: Int?
    public let files: [String]

    /// The spec in the twin's folder `directory`.
    public static func read(_ directory: URL) throws -> TwinSpec {
        try JSONDecoder().decode(TwinSpec.self, from: Data(contentsOf: directory.appendingPathComponent("spec.json")))
    }
}
