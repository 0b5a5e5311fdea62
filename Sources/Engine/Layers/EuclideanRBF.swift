/// Euclidean radial basis function units, LeNet-5's output layer (LeCun et al. 1998, eq. 7):
/// y[i] = sum_j (x[j] - centers[i, j])^2 on (batch, features) input.
///
/// Each output is a squared distance to a class prototype, a penalty: the smaller, the better the
/// match. Weights: `centers` (units, features), one prototype per row. The paper keeps them fixed,
/// so by default they are state (never trained, counted as non-trainable); `trainableCenters`
/// makes them a trainable parameter instead.
public final class EuclideanRBF: Layer {
    public let name: String
    /// One squared difference per input feature and unit.
    public func multiplyAccumulates(outputShape: [Int]) -> Int { inputFeatures * units }
    public let inputFeatures: Int
    public let units: Int
    public let centers: Parameter
    /// True when the centers are the paper's fixed prototypes (state), false when a parameter.
    public let fixedCenters: Bool
    private var savedInput: Tensor?

    /// Centers start as seeded random +-1 patterns (the paper drew them by hand as +-1 bitmaps).
    public init(name: String, inputFeatures: Int, units: Int, trainableCenters: Bool = false,
                generator: RandomGenerator = .global) {
        self.name = name
        self.inputFeatures = inputFeatures
        self.units = units
        centers = Parameter(name: "centers", shape: [units, inputFeatures], trainable: trainableCenters) {
            var c = Tensor(zeros: [units, inputFeatures])
            let p = c.mutableData()
            for i in 0..<c.count { p[i] = generator.next() >> 63 == 0 ? -1 : 1 }
            return c
        }
        fixedCenters = !trainableCenters
    }

    public var parameters: [Parameter] { fixedCenters ? [] : [centers] }
    public var state: [Parameter] { fixedCenters ? [centers] : [] }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 2, s[0] > 0, s[1] == inputFeatures else {
            throw LayerError(layer: name, "expected input (batch, \(inputFeatures)), got \(shapeString(s))")
        }
        guard centers.shape == [units, inputFeatures] else {
            throw LayerError(layer: name, "centers are \(shapeString(centers.shape)), expected "
                + shapeString([units, inputFeatures]))
        }
        return [s[0], units]
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let outShape = try outputShape(for: input.shape)
        var out = Tensor(uninitialized: outShape)
        let x = input.data, w = centers.value.data, y = out.mutableData()
        let (f, u) = (inputFeatures, units)
        // Differences, not |x|^2 - 2xw + |w|^2: no cancellation when x is close to a center.
        Parallel.forRanges(outShape[0], minimumChunk: max(1, 8192 / max(1, f * u))) { rows in
            for n in rows {
                let xn = x + n * f
                for i in 0..<u {
                    let wi = w + i * f
                    var s: Float = 0
                    for j in 0..<f { let d = xn[j] - wi[j]; s += d * d }
                    y[n * u + i] = s
                }
            }
        }
        if mode == .training { savedInput = input }
        return out
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let x = try requireSaved(savedInput)
        let batch = x.shape[0]
        try requireGradientShape(outputGradient, [batch, units])
        let xp = x.data, w = centers.value.data, g = outputGradient.data
        let (f, u) = (inputFeatures, units)
        if !fixedCenters && centers.trainable {
            // dL/dw[i, j] = -2 * sum_n g[n, i] * (x[n, j] - w[i, j])
            let dw = centers.gradient.mutableData()
            for n in 0..<batch {
                for i in 0..<u {
                    let gi = 2 * g[n * u + i], xn = xp + n * f, wi = w + i * f, di = dw + i * f
                    for j in 0..<f { di[j] -= gi * (xn[j] - wi[j]) }
                }
            }
        }
        guard needsInputGradient else { return nil }
        // dL/dx[n, j] = 2 * sum_i g[n, i] * (x[n, j] - w[i, j])
        var dx = Tensor(zeros: x.shape)
        let d = dx.mutableData()
        for n in 0..<batch {
            let xn = xp + n * f, dn = d + n * f
            for i in 0..<u {
                let gi = 2 * g[n * u + i], wi = w + i * f
                for j in 0..<f { dn[j] += gi * (xn[j] - wi[j]) }
            }
        }
        return dx
    }
}
