import Engine
import Foundation

/// One tensor as a safetensors file will hold it: its key, the values in ConvZoo's layout, and
/// the layout conversion whose inverse gives the stored layout (`.convolutionKernel` stores an
/// HWIO kernel as PyTorch's OIHW, and so on).
public struct SafetensorsEntry {
    public var key: String
    public var value: Tensor
    public var layout: LayoutConversion

    public init(key: String, value: Tensor, layout: LayoutConversion = .asStored) {
        self.key = key
        self.value = value
        self.layout = layout
    }
}

/// Writes safetensors files as the safetensors package does: the 8-byte little-endian header
/// length, the JSON header (padded with spaces so the data starts 8-byte aligned) with every
/// tensor's `dtype` (F32), `shape` and `data_offsets`, and string `__metadata__`; then the data,
/// each tensor in the order given, with no holes.
///
/// The data is streamed into the durable writer's temporary file in windows of at most
/// `chunkElements`, each tensor permuted into its stored layout as it goes: memory holds the
/// model and one window, never an image of the file.
public enum SafetensorsWriter {
    static let chunkElements = 1 << 18

    /// Writes `entries` and `metadata` to `url`, whole or not at all.
    public static func write(_ entries: [SafetensorsEntry], metadata: [String: String], to url: URL,
                             hooks: SaveHooks = SaveHooks()) throws {
        var shapes: [[Int]] = [], plans: [LayoutConversion.Plan] = []
        for entry in entries {
            guard let stored = entry.layout.storedShape(delivered: entry.value.shape),
                  case let .success(plan) = entry.layout.plan(stored: stored), plan.delivered == entry.value.shape else {
                throw WeightFileError(file: url.path, path: entry.key,
                                      "has shape \(shapeText(entry.value.shape)), which \(entry.layout) cannot store")
            }
            shapes.append(stored)
            plans.append(plan)
        }
        let header = try headerBytes(zip(entries.map(\.key), shapes).map { ($0, $1) }, metadata: metadata, file: url.path)
        do {
            try DurableFile.write(to: url, hooks: hooks) { write in
                var length = UInt64(header.count).littleEndian
                try write(Data(bytes: &length, count: 8))
                try write(header)
                let window = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: chunkElements)
                defer { window.deallocate() }
                for (entry, plan) in zip(entries, plans) {
                    try stream(entry.value, plan, window: window, write: write)
                }
            }
        } catch let error as DurableFileError {
            throw WeightFileError(file: url.path, path: "/", error.message)
        }
    }

    /// The JSON header, padded with spaces to a multiple of 8 bytes.
    static func headerBytes(_ tensors: [(key: String, shape: [Int])], metadata: [String: String], file: String) throws -> Data {
        var object: [String: Any] = [:]
        if !metadata.isEmpty { object["__metadata__"] = metadata }
        var offset = 0
        for (key, shape) in tensors {
            guard !key.isEmpty, key != "__metadata__", object[key] == nil else {
                throw WeightFileError(file: file, path: key, "is empty, reserved or used twice; expected unique tensor keys")
            }
            let end = offset + shape.reduce(1, *) * 4
            object[key] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, end]] as [String: Any]
            offset = end
        }
        var data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        data.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: (8 - data.count % 8) % 8))
        return data
    }

    /// Writes `value`'s elements in stored order: row-major over the plan's view, each taken from
    /// its delivered position.
    static func stream(_ value: Tensor, _ plan: LayoutConversion.Plan, window: UnsafeMutableBufferPointer<UInt32>,
                       write: (Data) throws -> Void) throws {
        var filled = 0
        func flush() throws {
            guard filled > 0 else { return }
            try write(Data(buffer: UnsafeBufferPointer(rebasing: window[0..<filled])))
            filled = 0
        }
        try value.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress, source.count > 0 else { return }
            let view = plan.view.isEmpty ? [1] : plan.view
            let steps = plan.view.isEmpty ? [1] : LayoutConversion.deliveredSteps(plan)
            let run = view[view.count - 1], step = steps[view.count - 1]
            try forEachRun(view, sourceSteps: steps, destinationSteps: [Int](repeating: 0, count: view.count)) { start, _ in
                var p = base + start
                for _ in 0..<run {
                    if filled == window.count { try flush() }
                    window[filled] = p.pointee.bitPattern.littleEndian
                    filled += 1
                    p += step
                }
            }
        }
        try flush()
    }

    /// A file attribute as a `__metadata__` string: lists as JSON arrays (the reader turns them back).
    public static func metadataText(_ value: AttributeValue) -> String? {
        func json(_ array: [Any]) -> String? {
            (try? JSONSerialization.data(withJSONObject: array, options: [.withoutEscapingSlashes])).map { String(decoding: $0, as: UTF8.self) }
        }
        switch value {
        case .string(let s): return s
        case .strings(let a): return json(a)
        case .integers(let a): return json(a)
        case .numbers(let a): return json(a)
        case .unsupported: return nil
        }
    }
}
