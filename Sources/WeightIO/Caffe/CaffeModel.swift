import Foundation

// A .caffemodel is a serialized `caffe.NetParameter` (BVLC/caffe, src/caffe/proto/caffe.proto).
// The field numbers used here, from that file:
//   NetParameter      name 1, layers 2 (V1LayerParameter, deprecated), layer 100 (LayerParameter)
//   LayerParameter    name 1, type 2 (string), blobs 7
//   V1LayerParameter  layer 1 (a V0LayerParameter: the V0 format), name 4, type 5 (enum), blobs 6
//   BlobProto         num 1, channels 2, height 3, width 4 (deprecated 4-D dims), data 5 (packed
//                     float), diff 6, shape 7 (BlobShape), double_data 8, double_diff 9
//   BlobShape         dim 1 (packed int64)
// Only this path through the messages is parsed (four levels deep at most); every other field
// is skipped by its length, never descended into, so nesting cannot run away.

/// One stored array of a Caffe layer (weights, then bias): its shape and where its values lie.
public struct CaffeBlob: Sendable {
    /// A stretch of values: packed (`stride` = value width) or one field per value (`stride` =
    /// one key byte + value width), starting at the first value's first byte.
    struct Run: Sendable, Equatable {
        let offset: Int
        let count: Int
        let stride: Int
    }

    /// Caffe's shape: `BlobShape` dims, or (num, channels, height, width) from the deprecated fields.
    public let shape: [Int]
    /// True when the shape came from the deprecated num/channels/height/width fields.
    public let hasLegacyShape: Bool
    /// float32 (`data`) or float64 (`double_data`).
    public let dtype: StoredDType
    /// The number of stored values (equal to the shape's element count).
    public let count: Int
    /// The bytes of the whole `BlobProto` message in the file.
    public let byteRange: Range<Int>
    let runs: [Run]

    /// The shape with the leading 1s of a legacy 4-D shape dropped down to `rank` dimensions: V1
    /// files store an InnerProduct's (4096, 9216) weights as (1, 1, 4096, 9216) and its bias as
    /// (1, 1, 1, 4096).
    public func essentialShape(rank: Int) -> [Int] {
        var s = shape[...]
        while hasLegacyShape, s.count > rank, s.first == 1 { s = s.dropFirst() }
        return Array(s)
    }

    /// The values as a stored tensor of `shape` (this blob's count) under `conversion`; a blob whose
    /// values are split over several fields (which no Caffe writer does) is refused.
    func tensor(_ file: ReadOnlyFile, path: String, shape: [Int], conversion: LayoutConversion,
                limits: ReadLimits) throws -> StoredTensor {
        guard runs.count <= 1 else {
            throw file.error(path, "its values are split over \(runs.count) separate fields; expected one packed "
                             + "`data` field or one unbroken run of values")
        }
        let width = dtype.byteCount
        let run = runs.first ?? Run(offset: byteRange.lowerBound, count: 0, stride: width)
        var steps = [Int](repeating: 0, count: shape.count), step = run.stride
        for axis in shape.indices.reversed() { steps[axis] = step; step &*= max(shape[axis], 1) }
        let keyBytes = run.stride - width
        return try StoredTensor(file: file, path: path, dtype: dtype, shape: shape, offset: run.offset, byteSteps: steps,
                                region: (run.offset - keyBytes)..<(run.offset - keyBytes + run.count * run.stride),
                                conversion: conversion, limits: limits)
    }
}

/// A layer of a Caffe network, with its blobs in file order.
public struct CaffeLayer: Sendable {
    public let name: String
    /// The type as V2 files name it (`Convolution`, `InnerProduct`); V1 enums are translated.
    public let type: String
    /// The blobs (activations) it reads and writes, by name.
    public let bottoms: [String]
    public let tops: [String]
    public let blobs: [CaffeBlob]
    public let byteRange: Range<Int>
}

/// A Caffe `.caffemodel` opened for reading: its layers and blobs indexed (names, types, shapes,
/// byte ranges), every length checked against the file, no value read yet. `read(_:of:into:)`
/// streams a blob's values into a tensor in bounded pieces.
public final class CaffeModel {
    /// The two layouts Caffe has written since 2014.
    public enum Version: String, Sendable {
        /// `layer` (field 100): string types, `BlobShape`.
        case layer = "V2 `layer`"
        /// `layers` (field 2): enum types, 4-D num/channels/height/width blob dims.
        case v1Layers = "V1 `layers`"
    }

    /// How errors and reports name the file.
    public let name: String
    /// The network's `name` field (`AlexNet`, `GoogleNet`), when present.
    public let netName: String?
    public let version: Version
    public let layers: [CaffeLayer]
    let file: ReadOnlyFile

    /// Upper bounds on the index (the file's size bounds the rest).
    static let maxLayers = 100_000
    static let maxBlobsPerLayer = 64
    static let maxRunsPerBlob = 4096

    init(name: String, netName: String?, version: Version, layers: [CaffeLayer], file: ReadOnlyFile) {
        self.name = name
        self.netName = netName
        self.version = version
        self.layers = layers
        self.file = file
    }

    /// Opens and indexes `url`; `limits` bound each blob's element count and rank.
    public static func open(_ url: URL, limits: ReadLimits = ReadLimits()) throws -> CaffeModel {
        let file = try ReadOnlyFile(url)
        return try NetIndexer(file: file, limits: limits).index()
    }

    /// True when the file starts as a `NetParameter` does: a first field that is one of its own,
    /// of the right wire type, whose length fits in the file.
    static func looksLikeCaffeModel(_ url: URL) -> Bool {
        guard let file = try? ReadOnlyFile(url), file.size > 0 else { return false }
        let cursor = WireCursor(file, windowBytes: 64)
        guard let f = try? cursor.field(before: file.size) else { return false }
        switch (f.number, f.type) {
        case (1, .lengthDelimited), (2, .lengthDelimited), (100, .lengthDelimited), (3, .lengthDelimited),
             (8, .lengthDelimited), (6, .lengthDelimited), (4, .varint), (4, .lengthDelimited), (5, .varint), (7, .varint):
            return true
        default:
            return false
        }
    }
}

/// Builds a `CaffeModel`'s index in one pass over the file's structure.
private struct NetIndexer {
    let file: ReadOnlyFile
    let limits: ReadLimits
    let cursor: WireCursor

    init(file: ReadOnlyFile, limits: ReadLimits) {
        self.file = file
        self.limits = limits
        cursor = WireCursor(file)
    }

    func index() throws -> CaffeModel {
        guard file.size > 0 else {
            throw cursor.fail("the file is empty (0 bytes); expected a Caffe .caffemodel (a NetParameter)")
        }
        var netName: String?
        var layers: [CaffeLayer] = []
        var versions = Set<CaffeModel.Version>()
        while let f = try cursor.field(before: file.size, checkingLength: false) {
            let isLayer = (f.number == 100 || f.number == 2) && f.type == .lengthDelimited
            if f.type == .lengthDelimited, f.value > UInt64(file.size - f.payload) {
                let what = isLayer ? "layer #\(layers.count + 1)" + (partialLayerName(f).map { " '\($0)'" } ?? "")
                    : "field \(f.number) of the NetParameter"
                throw cursor.fail("\(what) starts at byte \(f.start) and claims \(f.value) bytes, but the file ends at "
                                  + "byte \(file.size): the file is truncated or damaged")
            }
            switch (f.number, f.type) {
            case (1, .lengthDelimited):
                netName = try cursor.string(f)
            case (100, .lengthDelimited), (2, .lengthDelimited):
                guard layers.count < CaffeModel.maxLayers else {
                    throw cursor.fail("more than \(CaffeModel.maxLayers) layers; expected a network of at most that many")
                }
                let version: CaffeModel.Version = f.number == 100 ? .layer : .v1Layers
                versions.insert(version)
                layers.append(try layer(f, version: version, index: layers.count + 1))
                cursor.path = "/"
            default:
                cursor.skip(f)
            }
        }
        guard versions.count < 2 else {
            throw cursor.fail("holds both `layer` (V2) and `layers` (V1) entries; Caffe itself refuses such a "
                              + "NetParameter, expected one or the other")
        }
        guard let version = versions.first else {
            throw cursor.fail("no `layer` or `layers` entries; expected a Caffe .caffemodel (a NetParameter with layers)")
        }
        return CaffeModel(name: file.name, netName: netName, version: version, layers: layers, file: file)
    }

    /// The name at the start of a layer cut off by the file's end, if it can be read.
    private func partialLayerName(_ f: WireField) -> String? {
        let saved = cursor.position
        defer { cursor.seek(saved) }
        cursor.seek(f.payload)
        let nameField = f.number == 100 ? 1 : 4
        while let g = try? cursor.field(before: file.size) {
            if g.number == nameField, g.type == .lengthDelimited { return try? cursor.string(g, limit: 1024) }
            if g.number > nameField { return nil }
            cursor.skip(g)
        }
        return nil
    }

    private func layer(_ f: WireField, version: CaffeModel.Version, index: Int) throws -> CaffeLayer {
        let end = f.payload + Int(f.value)
        let (nameField, typeField, blobsField) = version == .layer ? (1, 2, 7) : (4, 5, 6)
        let (bottomField, topField) = version == .layer ? (3, 4) : (2, 3)
        var name: String?
        var type = ""
        var bottoms: [String] = [], tops: [String] = []
        var blobs: [CaffeBlob] = []
        cursor.path = "layer #\(index)"
        cursor.seek(f.payload)
        while let g = try cursor.field(before: end) {
            switch (g.number, g.type) {
            case (nameField, .lengthDelimited):
                let text = try cursor.string(g, limit: 1024)
                name = text
                cursor.path = "layer '\(text)'"
            case (bottomField, .lengthDelimited), (topField, .lengthDelimited):
                guard bottoms.count + tops.count < 4096 else {
                    throw cursor.fail("more than 4096 bottoms and tops; expected a layer's few inputs and outputs")
                }
                let blobName = try cursor.string(g, limit: 1024)
                if g.number == bottomField { bottoms.append(blobName) } else { tops.append(blobName) }
            case (typeField, .lengthDelimited) where version == .layer:
                type = try cursor.string(g, limit: 1024)
            case (typeField, .varint) where version == .v1Layers:
                type = V1LayerType.name(of: g.value)
            case (blobsField, .lengthDelimited):
                guard blobs.count < CaffeModel.maxBlobsPerLayer else {
                    throw cursor.fail("more than \(CaffeModel.maxBlobsPerLayer) blobs; expected a layer's few weight arrays")
                }
                blobs.append(try blob(g, index: blobs.count))
                cursor.seek(g.payload + Int(g.value))
            case (1, .lengthDelimited) where version == .v1Layers:
                throw cursor.fail("is in Caffe's V0 format (a V0LayerParameter inside `layers`, from before 2014); "
                                  + "expected the V1 `layers` or V2 `layer` format: upgrade the file with Caffe's "
                                  + "upgrade_net_proto_binary tool")
            default:
                cursor.skip(g)
            }
        }
        cursor.seek(end)
        return CaffeLayer(name: name ?? "#\(index)", type: type, bottoms: bottoms, tops: tops, blobs: blobs,
                          byteRange: f.start..<end)
    }

    private func blob(_ f: WireField, index: Int) throws -> CaffeBlob {
        let end = f.payload + Int(f.value)
        let layerPath = cursor.path
        cursor.path = "\(layerPath), blob \(index)"
        defer { cursor.path = layerPath }
        cursor.seek(f.payload)
        var dims: [Int]?
        var legacy: [Int: UInt64] = [:]
        var floats: [CaffeBlob.Run] = []
        var doubles: [CaffeBlob.Run] = []
        func add(_ run: CaffeBlob.Run, to runs: inout [CaffeBlob.Run]) throws {
            if let last = runs.last, last.stride == run.stride, last.stride != 4, last.stride != 8,
               last.offset + last.count * last.stride == run.offset {
                runs[runs.count - 1] = CaffeBlob.Run(offset: last.offset, count: last.count + run.count, stride: last.stride)
            } else if run.count > 0 {
                guard runs.count < CaffeModel.maxRunsPerBlob else {
                    throw cursor.fail("its values are split into more than \(CaffeModel.maxRunsPerBlob) pieces; "
                                      + "expected packed `data`")
                }
                runs.append(run)
            }
        }
        while let g = try cursor.field(before: end) {
            switch (g.number, g.type) {
            case (5, .lengthDelimited), (8, .lengthDelimited):
                let width = g.number == 5 ? 4 : 8
                guard g.value % UInt64(width) == 0 else {
                    throw cursor.fail("packed `\(g.number == 5 ? "data" : "double_data")` at byte \(g.start) holds "
                                      + "\(g.value) bytes, not a whole number of \(width)-byte values")
                }
                let run = CaffeBlob.Run(offset: g.payload, count: Int(g.value) / width, stride: width)
                if g.number == 5 { try add(run, to: &floats) } else { try add(run, to: &doubles) }
            case (5, .fixed32), (8, .fixed64):
                // One field per value: a one-byte key (0x2D, 0x41) then the value.
                guard g.payload - g.start == 1 else {
                    throw cursor.fail("the key at byte \(g.start) is written in \(g.payload - g.start) bytes; expected "
                                      + "the one-byte key protobuf writes for field \(g.number)")
                }
                let run = CaffeBlob.Run(offset: g.payload, count: 1, stride: g.number == 5 ? 5 : 9)
                if g.number == 5 { try add(run, to: &floats) } else { try add(run, to: &doubles) }
            case (7, .lengthDelimited):
                dims = try shape(g)
            case (1...4, .varint):
                legacy[g.number] = g.value
            case (5, _), (7, _), (8, _), (1...4, _):
                throw cursor.fail("field \(g.number) at byte \(g.start) has wire type \(g.type.rawValue), which "
                                  + "caffe.proto's BlobProto does not give it")
            default:
                break
            }
            cursor.skip(g)
        }
        let hasLegacy = !legacy.isEmpty
        // Caffe's Blob::FromProto prefers the deprecated 4-D fields when any is set.
        let shape: [Int]
        if hasLegacy {
            shape = try (1...4).map { i -> Int in
                let v = legacy[i] ?? 0
                guard v <= UInt64(limits.maxElements) else {
                    throw cursor.fail("legacy dimension \(["num", "channels", "height", "width"][i - 1]) is \(Int64(bitPattern: v)); "
                                      + "expected 0 to \(limits.maxElements)")
                }
                return Int(v)
            }
        } else {
            shape = dims ?? []
        }
        var declared = 1
        for d in shape {
            let (p, overflow) = declared.multipliedReportingOverflow(by: d)
            guard !overflow, p <= limits.maxElements else {
                throw cursor.fail("absurd shape \(shapeText(shape)); expected at most \(limits.maxElements) values")
            }
            declared = p
        }
        let floatCount = floats.reduce(0) { $0 + $1.count }
        let doubleCount = doubles.reduce(0) { $0 + $1.count }
        guard floatCount == 0 || doubleCount == 0 else {
            throw cursor.fail("holds both `data` (\(floatCount) floats) and `double_data` (\(doubleCount) doubles); "
                              + "expected one of them")
        }
        let stored = max(floatCount, doubleCount)
        guard stored == declared else {
            throw cursor.fail("shape \(shapeText(shape)) has \(declared) values but the blob stores \(stored); "
                              + "expected as many values as the shape (truncated or damaged blob?)")
        }
        return CaffeBlob(shape: shape, hasLegacyShape: hasLegacy, dtype: doubleCount > 0 ? .float64 : .float32,
                         count: stored, byteRange: f.start..<end, runs: doubleCount > 0 ? doubles : floats)
    }

    /// A `BlobShape`'s dims (packed or not), each checked to be 0 ... `maxElements`.
    private func shape(_ f: WireField) throws -> [Int] {
        let end = f.payload + Int(f.value)
        var dims: [Int] = []
        func append(_ v: UInt64) throws {
            guard v <= UInt64(limits.maxElements) else {
                throw cursor.fail("shape dimension \(Int64(bitPattern: v)); expected 0 to \(limits.maxElements)")
            }
            guard dims.count < limits.maxRank else {
                throw cursor.fail("a shape of more than \(limits.maxRank) dimensions; expected at most \(limits.maxRank)")
            }
            dims.append(Int(v))
        }
        cursor.seek(f.payload)
        while let g = try cursor.field(before: end) {
            if g.number == 1, g.type == .lengthDelimited {
                let packedEnd = g.payload + Int(g.value)
                while cursor.position < packedEnd { try append(try cursor.varint()) }
                guard cursor.position == packedEnd else {
                    throw cursor.fail("the packed shape dims at byte \(g.start) end inside a varint")
                }
            } else if g.number == 1, g.type == .varint {
                try append(g.value)
            } else {
                cursor.skip(g)
            }
        }
        return dims
    }
}

/// `V1LayerParameter.LayerType` values as the V2 type strings Caffe's upgrade gives them.
enum V1LayerType {
    static let names: [UInt64: String] = [
        0: "", 35: "AbsVal", 1: "Accuracy", 30: "ArgMax", 2: "BNLL", 3: "Concat", 37: "ContrastiveLoss",
        4: "Convolution", 5: "Data", 39: "Deconvolution", 6: "Dropout", 32: "DummyData", 7: "EuclideanLoss",
        25: "Eltwise", 38: "Exp", 8: "Flatten", 9: "HDF5Data", 10: "HDF5Output", 28: "HingeLoss", 11: "Im2col",
        12: "ImageData", 13: "InfogainLoss", 14: "InnerProduct", 15: "LRN", 29: "MemoryData",
        16: "MultinomialLogisticLoss", 34: "MVN", 17: "Pooling", 26: "Power", 18: "ReLU", 19: "Sigmoid",
        27: "SigmoidCrossEntropyLoss", 36: "Silence", 20: "Softmax", 21: "SoftmaxWithLoss", 22: "Split",
        33: "Slice", 23: "TanH", 24: "WindowData", 31: "Threshold",
    ]

    static func name(of value: UInt64) -> String { names[value] ?? "V1 type \(value)" }
}
