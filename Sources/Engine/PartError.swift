/// The one error type of the engine's named parts: a layer, a loss or an optimizer that was
/// given what it cannot take, naming the part and what it expected. `LayerError`, `LossError`
/// and `OptimizerError` are its kinds.
public struct PartError<Part: NamedPart>: Error, CustomStringConvertible, Equatable {
    public let name: String
    public let message: String

    public init(_ name: String, _ message: String) {
        self.name = name
        self.message = message
    }

    public var description: String { "\(Part.noun) '\(name)': \(message)" }
}

/// What kind of part a `PartError` names.
public protocol NamedPart {
    static var noun: String { get }
}

public enum LayerPart: NamedPart { public static let noun = "layer" }
public enum LossPart: NamedPart { public static let noun = "loss" }
public enum OptimizerPart: NamedPart { public static let noun = "optimizer" }

/// A shape or configuration error, naming the layer and what it expected.
public typealias LayerError = PartError<LayerPart>
/// A loss given inputs it cannot compare, naming the loss and what it expected.
public typealias LossError = PartError<LossPart>
/// A bad optimizer setting or a state that does not fit, naming the optimizer.
public typealias OptimizerError = PartError<OptimizerPart>

extension PartError where Part == LayerPart {
    public init(layer: String, _ message: String) { self.init(layer, message) }
    public var layer: String { name }
}

extension PartError where Part == LossPart {
    public init(loss: String, _ message: String) { self.init(loss, message) }
    public var loss: String { name }
}

extension PartError where Part == OptimizerPart {
    public init(optimizer: String, _ message: String) { self.init(optimizer, message) }
    public var optimizer: String { name }
}
