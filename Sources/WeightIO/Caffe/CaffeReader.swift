import Foundation

/// A Caffe `.caffemodel` as a `WeightFile`: one layer per Caffe layer with blobs, named as ConvZoo
/// names it (`inception_3a/1x1` -> `inception_3a_1x1`), its blobs converted to ConvZoo's layouts
/// as they are read: Convolution weights (out, in/groups, kh, kw) -> (kh, kw, in/groups, out);
/// InnerProduct weights (out, in) -> (in, out), and when their input is a feature map flattened
/// in Caffe's (C, H, W) order, reordered to ConvZoo's (H, W, C); biases as they are.
enum CaffeReader {
    /// The zoo networks a caffemodel's layer names identify, for `convzoo_architecture`.
    static func architecture(of model: CaffeModel) -> String? {
        let names = model.layers.map(\.name)
        let weighted = model.layers.filter { !$0.blobs.isEmpty }.map(\.name)
        if weighted == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"] {
            // CaffeNet (bvlc_reference_caffenet) has the same weights but pools before its LRN.
            if let norm = names.firstIndex(of: "norm1"), let pool = names.firstIndex(of: "pool1"), pool < norm { return nil }
            return "alexnet-caffe"
        }
        if weighted.contains("inception_3a/1x1") && weighted.contains("loss3/classifier") { return "googlenet-caffe" }
        return nil
    }

    static func open(_ url: URL, limits: ReadLimits) throws -> WeightFile {
        let model = try CaffeModel.open(url, limits: limits)
        let inputChannels = channelsIntoLayers(model)
        var previousWeighted: String?
        let layers = try model.layers.filter { !$0.blobs.isEmpty }.map { layer -> StoredLayer in
            defer { previousWeighted = layer.type }
            let name = layer.name.replacingOccurrences(of: "/", with: "_")
            let weights = try layer.blobs.enumerated().map { i, blob -> StoredWeight in
                let path = "\(layer.name)/blobs/\(i)"
                let (shape, conversion) = try layout(of: blob, index: i, in: layer, inputChannels: inputChannels[layer.name],
                                                     path: path, file: model)
                let tensor = try blob.tensor(model.file, path: path, shape: shape, conversion: conversion, limits: limits)
                return StoredWeight(name: layer.blobs.count == 2 ? ["weights", "bias"][i] : "\(i)", source: tensor)
            }
            return StoredLayer(name: name, path: layer.name, weights: weights)
        }
        var attributes: [String: AttributeValue] = [:]
        if let architecture = architecture(of: model) {
            attributes = ConvZooMetadata(architecture: architecture, variant: "caffe").attributes
        }
        return WeightFile(name: model.name, format: .caffe, attributes: attributes, layers: layers, limits: limits,
                          owner: model.file)
    }

    /// A blob's shape as read (legacy 4-D dims trimmed) and the conversion to ConvZoo's layout.
    static func layout(of blob: CaffeBlob, index: Int, in layer: CaffeLayer, inputChannels: Int?, path: String,
                       file model: CaffeModel) throws -> ([Int], LayoutConversion) {
        switch (layer.type, index) {
        case ("Convolution", 0):
            return (blob.shape, .convolutionKernel)
        case ("InnerProduct", 0):
            let shape = blob.essentialShape(rank: 2)
            guard shape.count == 2 else {
                throw model.file.error(path, "InnerProduct weights of shape \(shapeText(blob.shape)); expected (out, in)")
            }
            // A feature map of C channels flattened to `in` values: Caffe's order is (C, H, W).
            if let c = inputChannels, c > 0, shape[1] % c == 0, shape[1] != c {
                let side = Int(Double(shape[1] / c).squareRoot().rounded())
                if side * side * c == shape[1] { return (shape, .flattenedDenseKernel(height: side, width: side)) }
                throw model.file.error(path, "InnerProduct input of \(shape[1]) values from \(c) channels is not a "
                                       + "square feature map; expected a C x H x H flatten")
            }
            return (shape, .denseKernel)
        default:
            return (blob.essentialShape(rank: 1), .asStored)
        }
    }

    /// The channel count of each layer's first input, where the network's blobs say it: outputs of
    /// Convolution and InnerProduct layers, carried through layers that keep channels (ReLU, LRN,
    /// Pooling, Dropout) and summed by Concat.
    static func channelsIntoLayers(_ model: CaffeModel) -> [String: Int] {
        var channels: [String: Int] = [:]
        var into: [String: Int] = [:]
        for layer in model.layers {
            let input = layer.bottoms.first.flatMap { channels[$0] }
            if let input { into[layer.name] = input }
            let output: Int?
            switch layer.type {
            case "Convolution", "InnerProduct": output = layer.blobs.first?.essentialShape(rank: 2).first
            case "Concat":
                let parts = layer.bottoms.map { channels[$0] }
                output = parts.contains(nil) ? nil : parts.reduce(0) { $0 + ($1 ?? 0) }
            case "ReLU", "LRN", "Pooling", "Dropout", "Sigmoid", "TanH", "BatchNorm", "Scale", "Split": output = input
            default: output = nil
            }
            for top in layer.tops { channels[top] = output }
        }
        return into
    }
}
