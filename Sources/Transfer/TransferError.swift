/// A Transfer-layer error whose message says what was expected and what was found.
public struct TransferError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
