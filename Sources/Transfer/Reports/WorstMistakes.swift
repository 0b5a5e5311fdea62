import Engine
import Zoo

/// The most confident wrong predictions of an evaluation, collected while it streams: only the
/// `capacity` worst samples seen so far are kept (a copy of each preprocessed sample), so memory
/// stays bounded whatever the size of the dataset.
public struct WorstMistakes {
    /// A wrong prediction and the sample it was made on.
    public struct Mistake {
        /// The preprocessed sample, (1, height, width, channels).
        public let sample: Tensor
        /// What messages call the sample: its file path, or e.g. `images.npy[12]`.
        public let name: String
        public let trueClass: Int
        public let predicted: Int
        /// The probability the model gave the class it predicted.
        public let confidence: Float
        /// The sample's position in the evaluation, which breaks ties: the earlier sample ranks first.
        let order: Int
    }

    public let capacity: Int
    /// The mistakes kept, the most confident first.
    public private(set) var worst: [Mistake] = []
    /// Wrong predictions seen in all.
    public private(set) var count = 0
    private var seen = 0

    /// Keeps at most `capacity` mistakes (0: counts them, keeps none).
    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Looks at a batch: `inputs` (n, h, w, c) as the model took them, its `probabilities`
    /// (n, classes), the true classes as model outputs and each sample's name. The predicted class
    /// is the first highest probability, as the metrics count it.
    public mutating func add(inputs: Tensor, probabilities: Tensor, labels: [Int], names: (Int) -> String) {
        let classes = probabilities.shape[1], size = inputs.count / max(1, inputs.shape[0])
        for (row, label) in labels.enumerated() {
            defer { seen += 1 }
            let p = probabilities.data + row * classes
            var predicted = 0
            for c in 1..<max(1, classes) where p[c] > p[predicted] { predicted = c }
            guard predicted != label else { continue }
            count += 1
            let confidence = p[predicted]
            // A NaN confidence ranks below every number.
            func ranksAbove(_ m: Mistake) -> Bool { confidence > m.confidence || (!confidence.isNaN && m.confidence.isNaN) }
            guard worst.count < capacity || worst.last.map(ranksAbove) == true else { continue }
            let sample = Tensor(shape: [1] + Array(inputs.shape.dropFirst()),
                                scalars: Array(UnsafeBufferPointer(start: inputs.data + row * size, count: size)))
            let at = worst.firstIndex { ranksAbove($0) } ?? worst.count
            worst.insert(Mistake(sample: sample, name: names(row), trueClass: label, predicted: predicted,
                                 confidence: confidence, order: seen), at: at)
            if worst.count > capacity { worst.removeLast() }
        }
    }
}

/// A mistake as a report shows it: the image the model saw and, when Grad-CAM could run, the
/// heat map of the class it wrongly predicted over that image.
public struct MistakePicture {
    public let mistake: WorstMistakes.Mistake
    public let image: PixelImage
    public let overlay: PixelImage?

    /// Pictures of `mistakes`: each sample de-preprocessed, and its Grad-CAM overlay for the
    /// predicted class when `gradCAM` is given (one sample at a time, so memory holds one pass).
    public static func pictures(of mistakes: [WorstMistakes.Mistake], preprocessing: Preprocessing,
                                gradCAM: GradCAM?) throws -> [MistakePicture] {
        try mistakes.map { m in
            let image = try preprocessing.restore(m.sample.reshaped(Array(m.sample.shape.dropFirst())))
            let overlay = try gradCAM.map { cam -> PixelImage in
                let maps = try cam.explain(m.sample, classes: [m.predicted]).maps
                return try HeatMapOverlay.render(image: image, map: maps.reshaped(Array(maps.shape.dropFirst())), caption: nil)
            }
            return MistakePicture(mistake: m, image: image, overlay: overlay)
        }
    }
}
