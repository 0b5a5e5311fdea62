/// Labelled samples of one shape, loaded one at a time so that only a batch is ever in memory.
///
/// `load` may be called from a pool thread while the caller computes, so it must not touch
/// shared mutable state.
public protocol LabeledDataset {
    /// The number of samples.
    var count: Int { get }
    /// Class names in label order.
    var classNames: [String] { get }
    /// (height, width, channels) of one sample.
    var sampleShape: [Int] { get }
    /// The label of sample `index`, known without loading it.
    func label(at index: Int) -> Int
    /// What messages call sample `index`: its file path, or e.g. `x.npy[12]`.
    func sampleName(at index: Int) -> String
    /// Writes sample `index` (the product of `sampleShape` floats) to `destination`; throws when it cannot be read.
    func load(at index: Int, into destination: UnsafeMutablePointer<Float>) throws
}

extension LabeledDataset {
    /// Every sample's label, in sample order.
    public var labels: [Int] { (0..<count).map(label(at:)) }

    /// Floats in one sample.
    public var sampleSize: Int { sampleShape.reduce(1, *) }
}
