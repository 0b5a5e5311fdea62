import Engine
import WeightIO

extension ConvZooMetadata {
    /// Throws unless what a weight file records is something ConvZoo can use: a known architecture
    /// and variant, an input size and channels in range, a class count in range, known
    /// preprocessing and resize transform. A file's metadata is untrusted: it is checked before any
    /// model is built from it. `file` names the file in the error.
    public func validate(file: String) throws {
        func fail(_ attribute: String, _ found: String, _ expected: String) -> WeightFileError {
            WeightFileError(file: file, path: "/", "attribute 'convzoo_\(attribute)' is \(excerpt(found)); expected \(expected)")
        }
        let recorded = architecture.flatMap { try? Catalog.architecture(named: $0) }
        if let architecture, recorded == nil {
            throw fail("architecture", "'\(architecture)'", "an architecture of `zoo list`")
        }
        if let variant, Flavour(rawValue: variant) == nil {
            throw fail("variant", "'\(variant)'", "keras, torchvision, caffe or paper")
        }
        if let inputSize {
            let sides = recorded?.inputSideRange ?? ModelOptions.inputSideRange
            guard inputSize.count == 3, sides.contains(inputSize[0]), sides.contains(inputSize[1]),
                  ModelOptions.inputChannelsRange.contains(inputSize[2]) else {
                let channels = ModelOptions.inputChannelsRange
                throw fail("input_size", "\(inputSize)", "[height, width, channels] with sides from "
                    + "\(sides.lowerBound) to \(sides.upperBound) and \(channels.lowerBound) to \(channels.upperBound) channels")
            }
        }
        if let classNames, !ModelOptions.classesRange.contains(classNames.count) {
            throw fail("class_names", "a list of \(classNames.count) names", "\(ModelOptions.classesRange.lowerBound) to "
                + "\(ModelOptions.classesRange.upperBound) names")
        }
        if let preprocessing, Preprocessing(rawValue: preprocessing) == nil {
            throw fail("preprocessing", "'\(preprocessing)'", Preprocessing.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if let resizeTransform, ResizeTransform(resizeTransform) == nil {
            throw fail("resize_transform", "'\(resizeTransform)'", "keras-direct, keras-direct-bilinear or resize<R>-crop<C>")
        }
    }

    /// The recorded input's height and width, as model options take them.
    public var recordedInputSize: (height: Int, width: Int)? {
        guard let inputSize, inputSize.count == 3 else { return nil }
        return (inputSize[0], inputSize[1])
    }
}
