import Engine
import Foundation

/// A Keras-style table of a model: layer, type, output shape, parameters; then the totals.
public struct ModelSummary {
    public struct Row: Equatable {
        public let name: String
        public let type: String
        public let outputShape: [Int]
        public let parameters: Int
        public let multiplyAccumulates: Int
    }

    public let rows: [Row]
    public let totalParameters: Int
    public let trainableParameters: Int
    public var nonTrainableParameters: Int { totalParameters - trainableParameters }
    public let multiplyAccumulates: Int

    /// The table of `architecture` built with `options`, from shapes alone: its layers are made
    /// without their weights (`Parameter.withoutAllocating`), so a network larger than memory
    /// still has a summary.
    public init(_ architecture: Architecture, options: ModelOptions = ModelOptions()) throws {
        try self.init(architecture.shapesOnly(options))
    }

    /// Walks the model's layers with shape inference only: no data moves.
    public init(_ model: Model) throws {
        var rows: [Row] = []
        _ = try ModelSummary.walk(model.network, [1] + model.inputShape, into: &rows)
        self.rows = rows
        totalParameters = model.totalParameters
        trainableParameters = model.trainableParameters
        multiplyAccumulates = rows.reduce(0) { $0 + $1.multiplyAccumulates }
    }

    /// Appends a row per leaf layer (composites contribute their children and a joining row).
    static func walk(_ layer: Layer, _ input: [Int], into rows: inout [Row]) throws -> [Int] {
        switch layer {
        case let s as Sequential:
            return try s.layers.reduce(input) { try walk($1, $0, into: &rows) }
        case let r as Residual:
            let main = try walk(r.main, input, into: &rows)
            if let shortcut = r.shortcut { _ = try walk(shortcut, input, into: &rows) }
            rows.append(Row(name: r.addName, type: "Add", outputShape: main, parameters: 0, multiplyAccumulates: 0))
            if r.activation != .linear {
                rows.append(Row(name: r.outName, type: "Activation", outputShape: main, parameters: 0, multiplyAccumulates: 0))
            }
            return main
        case let c as Concatenate:
            for branch in c.branches { _ = try walk(branch, input, into: &rows) }
            let out = try c.outputShape(for: input)
            rows.append(Row(name: c.name, type: "Concatenate", outputShape: out, parameters: 0, multiplyAccumulates: 0))
            return out
        default:
            let out = try layer.outputShape(for: input)
            let params = layer.weights.reduce(0) { $0 + $1.weightCount }
            rows.append(Row(name: layer.name, type: layer.kerasClassName, outputShape: out, parameters: params,
                            multiplyAccumulates: layer.multiplyAccumulates(outputShape: out)))
            return out
        }
    }

    /// The table, with Keras's wording and comma-grouped counts.
    public func render(title: String) -> String {
        let line = String(repeating: "=", count: 92)
        var s = "Model: \"\(title)\"\n" + pad("Layer (type)", 46) + pad("Output Shape", 30) + "Param #\n" + line + "\n"
        for r in rows {
            let shape = "(None, " + r.outputShape.dropFirst().map(String.init).joined(separator: ", ") + ")"
            s += pad("\(r.name) (\(r.type))", 46) + pad(shape, 30) + grouped(r.parameters) + "\n"
        }
        s += line + "\n"
        s += "Total params: \(grouped(totalParameters))\n"
        s += "Trainable params: \(grouped(trainableParameters))\n"
        s += "Non-trainable params: \(grouped(nonTrainableParameters))\n"
        s += "Multiply-accumulates: \(grouped(multiplyAccumulates))\n"
        return s
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s.padding(toLength: n, withPad: " ", startingAt: 0) }
}

/// 138357544 -> "138,357,544".
public func grouped(_ n: Int) -> String {
    let digits = String(abs(n))
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}
