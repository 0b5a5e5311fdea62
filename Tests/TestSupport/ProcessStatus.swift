import Foundation

/// A kB figure of /proc/self/status (`VmRSS`, `VmHWM`), 0 where the file is absent.
public func processStatusKB(_ key: String) -> Int {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix(key + ":") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
}

/// What loading weights costs in memory: the process's RSS before the model is built, with it,
/// and its peak (VmHWM) once the load is done, against the weights' own size.
public struct LoadMemoryFigures {
    public let baselineKB, withModelKB, peakKB, weightsKB: Int
    public let seconds: Double

    /// Builds the model, then loads its weights, reading /proc/self/status around each step.
    public static func measure<Model>(build: () throws -> Model, weightCount: (Model) -> Int,
                                      load: (Model) throws -> Void) throws -> LoadMemoryFigures {
        let baseline = processStatusKB("VmRSS")
        let model = try build()
        let withModel = processStatusKB("VmRSS")
        let start = Date()
        try load(model)
        let seconds = Date().timeIntervalSince(start)
        return LoadMemoryFigures(baselineKB: baseline, withModelKB: withModel, peakKB: processStatusKB("VmHWM"),
                                 weightsKB: weightCount(model) * 4 / 1024, seconds: seconds)
    }

    /// What the load adds on top of the model's own tensors, in weights.
    public var loadRatio: Double { Double(peakKB - withModelKB) / Double(weightsKB) }
    /// The peak above the process's baseline, in weights.
    public var totalRatio: Double { Double(peakKB - baselineKB) / Double(weightsKB) }

    public var summary: String {
        func mib(_ kb: Int) -> Double { Double(kb) / 1024 }
        return String(format: "weights %.1f MiB; process %.1f MiB before the model, %.1f MiB with it (%.2fx the weights), "
                      + "peak %.1f MiB during the load: the load adds %.3fx the weights; peak above the process baseline "
                      + "%.2fx the weights; load took %.2f s", mib(weightsKB), mib(baselineKB), mib(withModelKB),
                      Double(withModelKB - baselineKB) / Double(weightsKB), mib(peakKB), loadRatio, totalRatio, seconds)
    }
}
