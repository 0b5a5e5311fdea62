import Foundation

/// safetensors: an 8-byte little-endian header length, a JSON header (at most 100 MB, possibly
/// padded with spaces) mapping each key to `dtype`, `shape` and `data_offsets` relative to the
/// data after the header, and an optional `__metadata__` of strings. The offsets must cover the
/// data exactly: no holes, no overlaps, every tensor's byte count its shape's.
enum SafetensorsReader {
    static let maxHeaderBytes = 100_000_000
    static let dtypes: [String: StoredDType] = ["F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64, "I64": .int64]

    /// True when the first bytes look like a safetensors header (a length, then `{`); whether the
    /// length fits is for `open` to say.
    static func sniff(_ file: ReadOnlyFile) -> Bool {
        guard file.size >= 10, let head = try? file.bytes(at: 0, count: 9) else { return false }
        let n = head[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        return head[8] == UInt8(ascii: "{") && n >= 2
    }

    /// A metadata string as an attribute: JSON arrays (ConvZoo's class names, input size) as lists.
    static func attribute(_ text: String) -> AttributeValue {
        guard text.hasPrefix("["), let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any] else {
            return .string(text)
        }
        if let strings = array as? [String] { return .strings(strings) }
        if let numbers = array as? [NSNumber], numbers.allSatisfy({ $0.doubleValue == $0.doubleValue.rounded() }) {
            return .integers(numbers.map(\.intValue))
        }
        return .string(text)
    }

    static func open(_ file: ReadOnlyFile, limits: ReadLimits) throws -> WeightFile {
        func fail(_ m: String) -> WeightFileError { file.error("/", "safetensors header: " + m) }
        let lengthBytes = try file.bytes(at: 0, count: 8)
        let length = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(maxHeaderBytes) else {
            throw fail("declares \(length) bytes; expected at most \(maxHeaderBytes)")
        }
        guard Int(length) <= file.size - 8 else {
            throw fail("declares \(length) bytes but the file has \(file.size) (truncated file?)")
        }
        let dataStart = 8 + Int(length)
        let header = try file.bytes(at: 8, count: Int(length))
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(header)) } catch {
            throw fail("is not valid JSON (\(describe(error)))")
        }
        guard let entries = json as? [String: Any] else { throw fail("is not a JSON object") }
        var attributes: [String: AttributeValue] = [:]
        var found: [(key: String, begin: Int, end: Int, dtype: StoredDType, shape: [Int])] = []
        for (key, value) in entries {
            if key == "__metadata__" {
                guard let metadata = value as? [String: Any] else { throw fail("'__metadata__' is not an object") }
                for (k, v) in metadata {
                    guard let text = v as? String else { throw fail("'__metadata__' entry '\(k)' is not a string") }
                    attributes[k] = attribute(text)
                }
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any], let offsets = entry["data_offsets"] as? [Any], offsets.count == 2 else {
                throw file.error(key, "safetensors header entry is not {dtype, shape, data_offsets: [begin, end]}")
            }
            guard let dtype = dtypes[dtypeName] else {
                throw file.error(key, "has dtype \(dtypeName); expected one of F32, F16, BF16, F64, I64")
            }
            let shape = try shapeValues.map { v -> Int in
                guard let n = v as? NSNumber, n.doubleValue >= 0, n.doubleValue == n.doubleValue.rounded(),
                      n.doubleValue < 9e15 else { throw file.error(key, "has a shape entry that is not a non-negative integer") }
                return n.intValue
            }
            let bounds = try offsets.map { v -> Int in
                guard let n = v as? NSNumber, n.doubleValue >= 0, n.doubleValue == n.doubleValue.rounded(),
                      n.doubleValue < 9e18 else { throw file.error(key, "has a data offset that is not a non-negative integer") }
                return n.intValue
            }
            guard bounds[0] <= bounds[1] else { throw file.error(key, "has data_offsets [\(bounds[0]), \(bounds[1])] ending before they begin") }
            found.append((key, bounds[0], bounds[1], dtype, shape))
        }
        // The file's order is the data's order.
        found.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        let dataLength = file.size - dataStart
        var expected = 0
        var tensors: [(key: String, tensor: StoredTensor)] = []
        for t in found {
            guard t.begin == expected else {
                throw file.error(t.key, t.begin < expected
                    ? "has data_offsets [\(t.begin), \(t.end)] overlapping the tensor before it (which ends at \(expected))"
                    : "has data_offsets [\(t.begin), \(t.end)] leaving a hole after byte \(expected) of the data")
            }
            guard t.end <= dataLength else {
                throw file.error(t.key, "has data_offsets [\(t.begin), \(t.end)] past the data's \(dataLength) bytes (truncated file?)")
            }
            let tensor = try StoredTensor(file: file, path: t.key, dtype: t.dtype, shape: t.shape, offset: dataStart + t.begin,
                                          region: (dataStart + t.begin)..<(dataStart + t.end), limits: limits)
            let bytes = tensor.shape.reduce(1, *) * t.dtype.byteCount
            guard bytes == t.end - t.begin else {
                throw file.error(t.key, "has \(t.end - t.begin) bytes for shape \(shapeText(t.shape)) of \(t.dtype.rawValue); "
                                 + "expected \(bytes)")
            }
            tensors.append((t.key, tensor))
            expected = t.end
        }
        guard expected == dataLength else {
            throw fail("the tensors cover \(expected) bytes of the data but it has \(dataLength); expected no trailing bytes")
        }
        return WeightFile(flat: tensors, name: file.name, format: .safetensors, attributes: attributes, owner: file, limits: limits)
    }
}
