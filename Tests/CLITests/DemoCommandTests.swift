import Foundation
import TestSupport
import XCTest

/// `make demo`'s job, as the built binary runs it.
final class DemoCommandTests: XCTestCase {
    func testDemoPretrainsSavesReloadsExtractsAndTransfers() throws {
        let repo = repositoryRoot
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try ZooBinary.run(["demo", "--data", repo.appendingPathComponent("datasets/digits").path,
                                   "--out", out.path, "--shots", "5",
                                   "--shipped", repo.appendingPathComponent("weights/lenet5-digits.h5").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let shipped = try XCTUnwrap(lines.first { $0.hasPrefix("0. shipped LeNet-5") }, r.stdout)
        XCTAssertGreaterThan(try XCTUnwrap(percent(in: shipped)), 97, shipped)
        let pretrained = try XCTUnwrap(lines.first { $0.hasPrefix("1. LeNet-5 pre-trained") }, r.stdout)
        let accuracy = try XCTUnwrap(percent(in: pretrained))
        XCTAssertGreaterThan(accuracy, 95, pretrained)
        XCTAssertTrue(lines.contains { $0.hasPrefix("2. saved") && $0.hasSuffix("bit-identical") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.contains("shape [896, 84]") }, r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("lenet5-digits-0to4.h5").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("f6-features-5to9.npy").path))
        XCTAssertEqual(lines.filter { $0.hasSuffix("%") && $0.hasPrefix("   ") }.count, 3, r.stdout)
    }

    /// The shipped weights come from the command `make lenet5-weights` runs: running it again
    /// (read from the Makefile, so the two cannot drift apart) scores as the shipped file does on
    /// the same held-out digits. (Bit-identical on the machine that wrote them; another CPU's
    /// kernels round differently, so the figures are compared.)
    func testTheShippedLeNet5WeightsAreReproducedByTheirCommand() throws {
        let repo = repositoryRoot
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-weights-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let makefile = try String(contentsOf: repo.appendingPathComponent("Makefile"), encoding: .utf8)
        let recipe = try XCTUnwrap(makefile.components(separatedBy: "lenet5-weights: build\n").last)
            .components(separatedBy: "\n\n")[0].replacingOccurrences(of: "\\\n", with: " ")
        var arguments = recipe.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        XCTAssertEqual(arguments.first, "$(BIN)", recipe)
        arguments.removeFirst()
        let relocate = ["--out": out.appendingPathComponent("lenet5-digits.h5").path,
                        "--checkpoints": out.appendingPathComponent("checkpoints").path,
                        "--data": repo.appendingPathComponent("datasets/digits").path]
        for (i, a) in arguments.enumerated() where relocate[a] != nil { arguments[i + 1] = relocate[a]! }
        let reproduced = try ZooBinary.run(arguments)
        XCTAssertEqual(reproduced.status, 0, reproduced.stderr)
        let best = try XCTUnwrap(reproduced.stdout.split(separator: "\n").first { $0.hasPrefix("best epoch") }, reproduced.stdout)

        let demo = try ZooBinary.run(["demo", "--data", repo.appendingPathComponent("datasets/digits").path,
                                      "--out", out.appendingPathComponent("demo").path, "--shots", "1",
                                      "--shipped", repo.appendingPathComponent("weights/lenet5-digits.h5").path])
        let shipped = try XCTUnwrap(demo.stdout.split(separator: "\n").first { $0.hasPrefix("0. shipped") }, demo.stdout)
        XCTAssertEqual(try XCTUnwrap(percent(in: String(best))), try XCTUnwrap(percent(in: String(shipped))), accuracy: 1.0,
                       "\(best)\n\(shipped)")
    }

    /// The first `NN.N%` figure of a line.
    func percent(in line: String) -> Double? {
        line.split(separator: " ").first { $0.hasSuffix("%") || $0.hasSuffix("%,") }
            .flatMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: "%,"))) }
    }

    func testMissingDataIsAClearError() throws {
        let r = try ZooBinary.run(["demo", "--data", "/nonexistent/digits"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("/nonexistent/digits"), r.stderr)
    }
}
