import Engine
import Foundation
import WeightIO

/// The files extracted features are written to, each replaced atomically (see `DurableFile`) and
/// written a slice of rows at a time, so a spooled pass (`FeatureExtractor.write`) never holds
/// its whole matrix in memory.
///
/// One layer:
/// - `.npy`: the (rows, features) float32 matrix alone, for `numpy.load`.
/// - `.h5` / `.hdf5`: datasets `features` (rows, features) and, when the rows have labels,
///   `labels` (rows,) float32 class indices; root attributes `paths` (each row's sample name),
///   `layer`, and `class_names` with the labels.
/// - `.csv`: a header `label,path,f0,f1,...` then one line per row: its class name (empty without
///   labels), its sample name and its features, each float in its shortest exact form.
///
/// Several layers: `.h5` holds one dataset per layer, named after it and shaped (rows, ...the
/// layer's output shape), e.g. (rows, 56, 56, 256), with `paths`, `labels` and `class_names` as
/// above and a root attribute `layers` listing them in order; `.npy` and `.csv` write one file per
/// layer, `<out>-<layer>.npy` (shaped like the h5 dataset) and `<out>-<layer>.csv` (the
/// single-layer CSV, flattened). A `/` in a layer name becomes `_` in a file or dataset name.
public enum FeatureFile {
    public enum Format: String, CaseIterable, Sendable {
        case npy, h5, csv

        /// The format a file name ends in (.npy, .h5 or .hdf5, .csv; any case), nil for others.
        public init?(url: URL) {
            switch url.pathExtension.lowercased() {
            case "npy": self = .npy
            case "h5", "hdf5": self = .h5
            case "csv": self = .csv
            default: return nil
            }
        }

        /// The format `url`'s name ends in, or an error naming the file.
        static func of(_ url: URL, _ format: Format?) throws -> Format {
            guard let format = format ?? Format(url: url) else {
                throw TransferError("\(url.path): expected a name ending in .npy, .h5 or .csv")
            }
            return format
        }
    }

    /// Writes `features` to `url` atomically, in `format` or else the one its name ends in.
    public static func write(_ features: ExtractedFeatures, to url: URL, format: Format? = nil) throws {
        try write(FeatureTable(features), to: url, format: format)
    }

    /// Writes every layer's features (one pass's, so their rows are the same samples) to `url`, or to
    /// one file per layer next to it (see the type's description); a single layer is written as
    /// `write(_:to:)` writes it. Returns the files written.
    @discardableResult
    public static func write(eachLayer features: [ExtractedFeatures], to url: URL, format: Format? = nil) throws -> [URL] {
        guard let first = features.first else { throw TransferError("\(url.path): no layer's features to write") }
        var table = FeatureTable(first)
        table.layers = features.map(FeatureTable.layer)
        return try write(table, to: url, format: format)
    }

    /// Writes `table`: one layer as `write(_:to:)` does, several as `write(eachLayer:to:)` does.
    @discardableResult
    static func write(_ table: FeatureTable, to url: URL, format: Format?) throws -> [URL] {
        let format = try Format.of(url, format)
        if table.layers.count == 1 {
            let layer = table.layers[0]
            switch format {
            case .npy: try npy(layer, flattened: true, table.rowCount, to: url)
            case .csv: try csv(table, layer, to: url)
            case .h5:
                try hdf5(url) { root in
                    try dataset(layer, named: "features", flattened: true, table.rowCount, in: root)
                    try root.setStringArray("paths", table.names)
                    try root.setAttribute("layer", .string(layer.name))
                    try labels(table, root)
                }
            }
            return [url]
        }
        switch format {
        case .h5:
            try hdf5(url) { root in
                for layer in table.layers {
                    try dataset(layer, named: safeName(layer.name), flattened: false, table.rowCount, in: root)
                }
                try root.setStringArray("paths", table.names)
                try root.setStringArray("layers", table.layers.map(\.name))
                try labels(table, root)
            }
            return [url]
        case .npy, .csv:
            return try table.layers.map { layer in
                let file = perLayerURL(url, layer: layer.name)
                if format == .npy { try npy(layer, flattened: false, table.rowCount, to: file) } else { try csv(table, layer, to: file) }
                return file
            }
        }
    }

    /// `<out>-<layer>.<extension>` beside `url`.
    public static func perLayerURL(_ url: URL, layer: String) -> URL {
        let stem = url.deletingPathExtension().lastPathComponent
        return url.deletingLastPathComponent().appendingPathComponent("\(stem)-\(safeName(layer)).\(url.pathExtension)")
    }

    /// `layer` usable as a file or HDF5 dataset name.
    static func safeName(_ layer: String) -> String { layer.replacingOccurrences(of: "/", with: "_") }

    /// Hands `body` each slice of `layer`'s rows in order.
    static func slices(_ layer: FeatureTable.Layer, _ rows: Int, _ body: (Tensor) throws -> Void) throws {
        var row = 0
        while row < rows {
            let n = min(layer.rows.sliceRows, rows - row)
            try body(try layer.rows.read(row..<(row + n)))
            row += n
        }
    }

    static func npy(_ layer: FeatureTable.Layer, flattened: Bool, _ rows: Int, to url: URL) throws {
        try DurableFile.write(to: url) { write in
            try write(NPY.header(shape: layer.shape(rows: rows, flattened: flattened)))
            try slices(layer, rows) { slice in
                // The slice's own storage, not a copy (a matrix in memory is one slice).
                try slice.withUnsafeBufferPointer { p in
                    try write(Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: p.baseAddress!), count: p.count * 4,
                                   deallocator: .none))
                }
            }
        }
    }

    static func csv(_ table: FeatureTable, _ layer: FeatureTable.Layer, to url: URL) throws {
        try DurableFile.write(to: url) { write in
            var text = "label,path"
            for c in 0..<layer.width { text += ",f\(c)" }
            try write(Data((text + "\n").utf8))
            var row = 0
            try slices(layer, table.rowCount) { slice in
                var text = ""
                text.reserveCapacity(slice.shape[0] * (layer.width * 12 + 64))
                let x = slice.data
                for r in 0..<slice.shape[0] {
                    if let labels = table.labels { text += csvField(table.classNames[labels[row]]) }
                    text += "," + csvField(table.names[row])
                    let values = x + r * layer.width
                    for c in 0..<layer.width {
                        text += ","
                        text += values[c].description
                    }
                    text += "\n"
                    row += 1
                }
                try write(Data(text.utf8))
            }
        }
    }

    /// RFC 4180 quoting for a field holding a comma, quote or line break.
    public static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func hdf5(_ url: URL, _ build: (HDF5Group) throws -> Void) throws {
        try DurableFile.create(url) { temporary in try HDF5File.create(temporary, name: url.path, build) }
    }

    static func dataset(_ layer: FeatureTable.Layer, named name: String, flattened: Bool, _ rows: Int,
                        in root: HDF5Group) throws {
        let shape = layer.shape(rows: rows, flattened: flattened)
        try root.createDataset(name, shape: shape) { write in
            try slices(layer, rows) { slice in try write(slice.reshaped([slice.shape[0]] + shape.dropFirst())) }
        }
    }

    static func labels(_ table: FeatureTable, _ root: HDF5Group) throws {
        guard let labels = table.labels else { return }
        try root.createDataset("labels", Tensor(shape: [labels.count], scalars: labels.map(Float.init)))
        try root.setStringArray("class_names", table.classNames)
    }
}

/// What a feature file holds, wherever the rows are (a matrix in memory, or spooled to disk):
/// per layer its rows, per row its sample's name and label.
struct FeatureTable {
    struct Layer {
        let name: String
        /// One sample's output shape, e.g. (56, 56, 256) or (84).
        let sampleShape: [Int]
        let rows: RowSource

        var width: Int { sampleShape.reduce(1, *) }

        /// (rows, width) flattened, or (rows, ...sampleShape).
        func shape(rows: Int, flattened: Bool) -> [Int] { [rows] + (flattened ? [width] : sampleShape) }
    }

    var layers: [Layer]
    var names: [String]
    var labels: [Int]?
    var classNames: [String]
    var rowCount: Int { names.count }

    /// `features`' one layer.
    init(_ features: ExtractedFeatures) {
        self.init(layers: [FeatureTable.layer(features)], names: features.names, labels: features.labels,
                  classNames: features.classNames)
    }

    init(layers: [Layer], names: [String], labels: [Int]?, classNames: [String]) {
        self.layers = layers
        self.names = names
        self.labels = labels
        self.classNames = classNames
    }

    /// The layer of in-memory `features`.
    static func layer(_ features: ExtractedFeatures) -> Layer {
        Layer(name: features.layer, sampleShape: Array(features.mapShape.dropFirst()), rows: MatrixRows(matrix: features.values))
    }
}

/// Rows read in order, a slice at a time.
protocol RowSource {
    /// Rows `range` as a (rows, width) matrix.
    func read(_ range: Range<Int>) throws -> Tensor
    /// Rows per slice worth reading at once.
    var sliceRows: Int { get }
}

extension RowSpool: RowSource {}

/// The rows of a matrix already in memory: one slice, the matrix itself, no copy.
struct MatrixRows: RowSource {
    let matrix: Tensor
    var sliceRows: Int { max(1, matrix.shape[0]) }

    func read(_ range: Range<Int>) throws -> Tensor {
        if range == 0..<matrix.shape[0] { return matrix }
        let width = matrix.shape[1]
        var out = Tensor(uninitialized: [range.count, width])
        out.mutableData().update(from: matrix.data + range.lowerBound * width, count: range.count * width)
        return out
    }
}
