import Engine
import Foundation
import WeightIO

/// The files extracted features are written to, each replaced atomically (see `DurableFile`).
///
/// - `.npy`: the (rows, features) float32 matrix alone, for `numpy.load`.
/// - `.h5` / `.hdf5`: datasets `features` (rows, features) and, when the rows have labels,
///   `labels` (rows,) float32 class indices; root attributes `paths` (each row's sample name),
///   `layer`, and `class_names` with the labels.
/// - `.csv`: a header `label,path,f0,f1,...` then one line per row: its class name (empty without
///   labels), its sample name and its features, each float in its shortest exact form.
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
    }

    /// Writes `features` to `url` atomically, in `format` or else the one its name ends in.
    public static func write(_ features: ExtractedFeatures, to url: URL, format: Format? = nil) throws {
        guard let format = format ?? Format(url: url) else {
            throw TransferError("\(url.path): expected a name ending in .npy, .h5 or .csv")
        }
        switch format {
        case .npy: try DurableFile.write(NPY.encode(features.values), to: url)
        case .csv: try DurableFile.write(csv(features), to: url)
        case .h5:
            try DurableFile.create(url) { temporary in
                try HDF5File.create(temporary, name: url.path) { root in try hdf5(features, root) }
            }
        }
    }

    static func csv(_ features: ExtractedFeatures) -> Data {
        let width = features.width, rows = features.rowCount
        var text = "label,path"
        for c in 0..<width { text += ",f\(c)" }
        text += "\n"
        text.reserveCapacity(text.utf8.count + rows * (width * 12 + 64))
        let x = features.values.data
        for r in 0..<rows {
            if let labels = features.labels { text += csvField(features.classNames[labels[r]]) }
            text += "," + csvField(features.names[r])
            let row = x + r * width
            for c in 0..<width {
                text += ","
                text += row[c].description
            }
            text += "\n"
        }
        return Data(text.utf8)
    }

    /// RFC 4180 quoting for a field holding a comma, quote or line break.
    public static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func hdf5(_ features: ExtractedFeatures, _ root: HDF5Group) throws {
        try root.createDataset("features", features.values)
        try root.setStringArray("paths", features.names)
        try root.setAttribute("layer", .string(features.layer))
        if let labels = features.labels {
            try root.createDataset("labels", Tensor(shape: [labels.count], scalars: labels.map(Float.init)))
            try root.setStringArray("class_names", features.classNames)
        }
    }
}
