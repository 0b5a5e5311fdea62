/// A value the restricted unpickler builds. Lists and dicts are reference types because pickles
/// fill them after memoizing them.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits, as little-endian two's-complement bytes (the legacy magic number).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// An allowed global (a storage type or a rebuild function), by `module.name`.
    case global(String)
    /// A persistent id resolved by the caller (a storage).
    case storage(StorageReference)
    case tensor(TensorRecord)

    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case let .global(name): return name
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

final class PickleList { var items: [PickleValue] = [] }
final class PickleDict { var pairs: [(PickleValue, PickleValue)] = [] }

/// A storage a tensor refers to: its key in the file, element type and element count.
struct StorageReference {
    let key: String
    /// nil for storage types ConvZoo does not read (int32, uint8, bool...); named by `typeName`.
    let dtype: StoredDType?
    let typeName: String
    let elementCount: Int
}

/// A tensor as the pickle describes it: a view of a storage.
struct TensorRecord {
    let storage: StorageReference
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}

/// A pickle that cannot be read, or one that asks for something the unpickler refuses.
struct PickleError: Error {
    let message: String
}

/// Bytes the unpickler reads in order, from wherever they are.
protocol PickleInput {
    /// The offset of the next byte (for error messages).
    var position: Int { get }
    /// The next `count` bytes; fails when fewer remain (a count is never trusted beyond what remains).
    mutating func take(_ count: Int) throws -> [UInt8]
    mutating func byte() throws -> UInt8
}

/// A restricted unpickler: it executes nothing. It knows the opcodes a state_dict needs and
/// only the globals `torch.load(weights_only=True)` allows for tensors; any other global (a
/// function like `posix.system`, a class like a whole `nn.Module`) stops it before anything
/// happens, with an error that names the global.
struct Unpickler {
    /// The storage types (`torch.FloatStorage`, ...) and the element types ConvZoo reads them as.
    static let storageTypes: [String: StoredDType?] = [
        "torch.FloatStorage": .float32, "torch.HalfStorage": .float16, "torch.BFloat16Storage": .bfloat16,
        "torch.DoubleStorage": .float64, "torch.LongStorage": .int64,
        "torch.IntStorage": nil, "torch.ShortStorage": nil, "torch.CharStorage": nil, "torch.ByteStorage": nil,
        "torch.BoolStorage": nil,
    ]
    static let functions: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    ]
    /// Bounds against hostile pickles: stack depth and memo size.
    static let maxStack = 1 << 20

    /// Bytes per element of the storage types ConvZoo does not read, so a reader can step over them.
    static let otherElementSizes: [String: Int] = [
        "torch.IntStorage": 4, "torch.ShortStorage": 2, "torch.CharStorage": 1, "torch.ByteStorage": 1, "torch.BoolStorage": 1,
    ]

    /// Bytes per element of a storage type, nil for a name that is none.
    static func elementSize(_ typeName: String) -> Int? {
        if let dtype = storageTypes[typeName] ?? nil { return dtype.byteCount }
        return otherElementSizes[typeName]
    }

    /// Turns a persistent id (a tuple `('storage', type, key, location, numel, ...)`) into a value.
    let persistentLoad: (PickleValue) throws -> PickleValue
    /// Further globals the pickle may name but never call (the tar format's tensor types).
    let namedTypes: Set<String>

    init(allowing namedTypes: Set<String> = [], persistentLoad: @escaping (PickleValue) throws -> PickleValue) {
        self.namedTypes = namedTypes
        self.persistentLoad = persistentLoad
    }

    /// Reads one pickle, up to and including its STOP opcode.
    func load<Input: PickleInput>(_ input: inout Input) throws -> PickleValue {
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]
        func fail(_ m: String) -> PickleError { PickleError(message: m + " (pickle byte \(input.position))") }
        func pop() throws -> PickleValue {
            guard let v = stack.popLast() else { throw fail("stack underflow; expected a well-formed pickle") }
            return v
        }
        func popMark() throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK; expected a well-formed pickle") }
            let items = Array(stack[m...])
            stack.removeSubrange(m...)
            return items
        }
        func push(_ v: PickleValue) throws {
            guard stack.count < Unpickler.maxStack else { throw fail("stack deeper than \(Unpickler.maxStack)") }
            stack.append(v)
        }
        func int(_ bytes: [UInt8]) -> Int {
            bytes.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        }
        func text(_ bytes: [UInt8]) throws -> String {
            guard let s = String(bytes: bytes, encoding: .utf8) else { throw fail("a string that is not UTF-8") }
            return s
        }
        func line() throws -> String {
            var bytes: [UInt8] = []
            while true {
                let b = try input.byte()
                if b == 0x0A { break }
                guard bytes.count < 4096 else { throw fail("a text line longer than 4096 bytes") }
                bytes.append(b)
            }
            return try text(bytes)
        }
        func global(_ module: String, _ name: String) throws -> PickleValue {
            let full = "\(module).\(name)"
            if Unpickler.storageTypes[full] != nil || Unpickler.functions.contains(full) || namedTypes.contains(full) {
                return .global(full)
            }
            throw PickleError(message: "refuses the pickled global '\(full)': the file would run code or build an "
                + "object other than tensors. Only state_dicts can be read (the globals torch.load(weights_only=True) "
                + "allows for tensors); save the model's state_dict: torch.save(model.state_dict(), path)")
        }
        func length(_ n: Int) throws -> Int {
            guard n >= 0 else { throw fail("a negative length") }
            return n
        }
        while true {
            let op = try input.byte()
            switch op {
            case 0x80: _ = try input.byte()  // PROTO
            case 0x95: _ = try input.take(8)  // FRAME
            case 0x2E: return try pop()  // STOP
            case 0x28: marks.append(stack.count)  // MARK
            case 0x29: try push(.tuple([]))
            case 0x5D: try push(.list(PickleList()))
            case 0x7D: try push(.dict(PickleDict()))
            case 0x74: try push(.tuple(try popMark()))  // TUPLE
            case 0x85: try push(.tuple([try pop()]))
            case 0x86: let b = try pop(), a = try pop(); try push(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); try push(.tuple([a, b, c]))
            case 0x6C: let l = PickleList(); l.items = try popMark(); try push(.list(l))  // LIST
            case 0x64:  // DICT
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("DICT with an odd number of items") }
                let d = PickleDict()
                d.pairs = stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }
                try push(.dict(d))
            case 0x61:  // APPEND
                let v = try pop()
                guard case let .list(l)? = stack.last else { throw fail("APPEND to a \(stack.last?.kind ?? "nothing")") }
                l.items.append(v)
            case 0x65:  // APPENDS
                let items = try popMark()
                guard case let .list(l)? = stack.last else { throw fail("APPENDS to a \(stack.last?.kind ?? "nothing")") }
                l.items += items
            case 0x73:  // SETITEM
                let v = try pop(), k = try pop()
                guard case let .dict(d)? = stack.last else { throw fail("SETITEM on a \(stack.last?.kind ?? "nothing")") }
                d.pairs.append((k, v))
            case 0x75:  // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0, case let .dict(d)? = stack.last else {
                    throw fail("SETITEMS on a \(stack.last?.kind ?? "nothing") or with an odd number of items")
                }
                for i in stride(from: 0, to: items.count, by: 2) { d.pairs.append((items[i], items[i + 1])) }
            case 0x4E: try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x4A: try push(.int(Int(Int32(bitPattern: UInt32(int(try input.take(4)))))))  // BININT
            case 0x4B: try push(.int(Int(try input.byte())))  // BININT1
            case 0x4D: try push(.int(int(try input.take(2))))  // BININT2
            case 0x8A, 0x8B:  // LONG1, LONG4
                let n = op == 0x8A ? Int(try input.byte()) : try length(Int(Int32(bitPattern: UInt32(int(try input.take(4))))))
                let bytes = try input.take(n)
                if n == 0 {
                    try push(.int(0))
                } else if n <= 8 {
                    let negative = bytes[n - 1] & 0x80 != 0
                    let padded = bytes + [UInt8](repeating: negative ? 0xFF : 0, count: 8 - n)
                    try push(.int(int(padded)))
                } else {
                    try push(.bigInt(bytes))
                }
            case 0x49:  // INT (text)
                let s = try line()
                if s == "00" || s == "01" { try push(.bool(s == "01")) } else {
                    guard let v = Int(s) else { throw fail("INT '\(s)' is not an integer") }
                    try push(.int(v))
                }
            case 0x47:  // BINFLOAT, big-endian
                let bits = try input.take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                try push(.float(Double(bitPattern: bits)))
            case 0x58, 0x8C, 0x8D:  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                let n = op == 0x8C ? Int(try input.byte()) : op == 0x58 ? int(try input.take(4)) : try length(int(try input.take(8)))
                try push(.string(try text(try input.take(n))))
            case 0x54, 0x55:  // BINSTRING, SHORT_BINSTRING (protocol 2 str)
                let n = op == 0x55 ? Int(try input.byte()) : try length(Int(Int32(bitPattern: UInt32(int(try input.take(4))))))
                let bytes = try input.take(n)
                try push(String(bytes: bytes, encoding: .utf8).map(PickleValue.string) ?? .bytes(bytes))
            case 0x42, 0x43, 0x8E:  // BINBYTES, SHORT_BINBYTES, BINBYTES8
                let n = op == 0x43 ? Int(try input.byte()) : op == 0x42 ? int(try input.take(4)) : try length(int(try input.take(8)))
                try push(.bytes(try input.take(n)))
            case 0x71: memo[Int(try input.byte())] = stack.last  // BINPUT
            case 0x72: memo[int(try input.take(4))] = stack.last  // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last  // MEMOIZE
            case 0x70:  // PUT (text)
                guard let i = Int(try line()) else { throw fail("PUT without an index") }
                memo[i] = stack.last
            case 0x68, 0x6A, 0x67:  // BINGET, LONG_BINGET, GET
                let i = op == 0x68 ? Int(try input.byte()) : op == 0x6A ? int(try input.take(4)) : Int(try line()) ?? -1
                guard let v = memo[i] else { throw fail("memo entry \(i) read before it was written") }
                try push(v)
            case 0x63: try push(try global(try line(), try line()))  // GLOBAL
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case let .string(n) = name, case let .string(m) = module else { throw fail("STACK_GLOBAL of non-strings") }
                try push(try global(m, n))
            case 0x51: try push(try persistentLoad(try pop()))  // BINPERSID
            case 0x52:  // REDUCE
                let arguments = try pop(), callable = try pop()
                guard case let .global(name) = callable, case let .tuple(args) = arguments else {
                    throw fail("REDUCE of \(callable.kind) with \(arguments.kind); expected an allowed function and a tuple")
                }
                try push(try Unpickler.call(name, args))
            case 0x62:  // BUILD: an OrderedDict's `_metadata` (attribute state) is not needed
                let state = try pop()
                guard case .dict? = stack.last else {
                    throw fail("BUILD (setting state) on a \(stack.last?.kind ?? "nothing") with \(state.kind); "
                               + "expected a state_dict's OrderedDict")
                }
            default:
                throw fail("unsupported pickle opcode 0x\(String(op, radix: 16)); expected a state_dict pickle")
            }
        }
    }

    /// What the allowed functions return: tensors from their storage, offset, size and stride.
    static func call(_ name: String, _ args: [PickleValue]) throws -> PickleValue {
        switch name {
        case "collections.OrderedDict":
            guard args.isEmpty else { throw PickleError(message: "OrderedDict called with arguments; expected ()") }
            return .dict(PickleDict())
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard args.count >= 4, case let .storage(storage) = args[0], case let .int(offset) = args[1],
                  let shape = ints(args[2]), let strides = ints(args[3]), shape.count == strides.count else {
                throw PickleError(message: "\(name) with arguments (\(args.map(\.kind).joined(separator: ", "))); "
                                  + "expected (storage, offset, size, stride, ...)")
            }
            return .tensor(TensorRecord(storage: storage, offset: offset, shape: shape, strides: strides))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let data = args.first, case .tensor = data else {
                throw PickleError(message: "\(name) without a tensor; expected (tensor, requires_grad, hooks)")
            }
            return data
        default:
            throw PickleError(message: "'\(name)' is a type, not a function a state_dict calls")
        }
    }

    static func ints(_ v: PickleValue) -> [Int]? {
        guard case let .tuple(items) = v else { return nil }
        var result: [Int] = []
        for item in items {
            guard case let .int(i) = item else { return nil }
            result.append(i)
        }
        return result
    }
}
