/// How a stored tensor's layout becomes ConvZoo's: the one place where PyTorch's and Caffe's
/// layouts (OIHW kernels, (out, in) dense weights, a C, H, W flatten) turn into ConvZoo's (HWIO
/// kernels, (in, out) dense kernels, an H, W, C flatten).
///
/// Each conversion views the stored elements under a shape of the same count and permutes its
/// axes; readers apply it while scattering elements into the destination, so no converted copy
/// of a tensor is ever made.
public enum LayoutConversion: Equatable, Sendable, CustomStringConvertible {
    /// Delivered as stored.
    case asStored
    /// A convolution kernel stored (out, in/groups, kh, kw), delivered (kh, kw, in/groups, out).
    case convolutionKernel
    /// A dense weight stored (out, in) (or (out, in, 1, 1), a 1x1 convolution acting as one),
    /// delivered (in, out).
    case denseKernel
    /// The first dense weight after a flatten of a (channels, height, width) feature map, stored
    /// (out, channels * height * width) or as a convolution (out, channels, height, width) spanning
    /// the whole map; delivered (height * width * channels, out), ConvZoo's H, W, C flatten order.
    case flattenedDenseKernel(height: Int, width: Int)

    public var description: String {
        switch self {
        case .asStored: return "as stored"
        case .convolutionKernel: return "OIHW -> HWIO"
        case .denseKernel: return "(out, in) -> (in, out)"
        case let .flattenedDenseKernel(h, w): return "(out, C*\(h)*\(w)) -> (\(h)*\(w)*C, out)"
        }
    }

    /// The stored elements viewed as `view` (row-major, same count), then axes permuted so the
    /// delivered axis k is view axis `order[k]`; the delivered shape is `delivered`.
    struct Plan: Equatable {
        let view: [Int]
        let order: [Int]
        let delivered: [Int]
    }

    /// The plan for a tensor stored as `stored`, or the reason the conversion does not apply.
    func plan(stored: [Int]) -> Result<Plan, LayoutError> {
        func fail(_ expected: String) -> Result<Plan, LayoutError> {
            .failure(LayoutError(message: "is stored with shape \(shapeText(stored)); \(expected) (\(self))"))
        }
        switch self {
        case .asStored:
            return .success(Plan(view: stored, order: Array(stored.indices), delivered: stored))
        case .convolutionKernel:
            guard stored.count == 4 else { return fail("expected a 4-D convolution weight (out, in, kh, kw)") }
            let (o, i, h, w) = (stored[0], stored[1], stored[2], stored[3])
            return .success(Plan(view: stored, order: [2, 3, 1, 0], delivered: [h, w, i, o]))
        case .denseKernel:
            guard stored.count == 2 || (stored.count == 4 && stored[2] == 1 && stored[3] == 1) else {
                return fail("expected a 2-D dense weight (out, in) or a 1x1 convolution (out, in, 1, 1)")
            }
            let (o, i) = (stored[0], stored[1])
            return .success(Plan(view: [o, i], order: [1, 0], delivered: [i, o]))
        case let .flattenedDenseKernel(h, w):
            guard h > 0, w > 0 else { return fail("expected a positive feature-map size") }
            let o: Int, c: Int
            if stored.count == 4, stored[2] == h, stored[3] == w {
                (o, c) = (stored[0], stored[1])
            } else if stored.count == 2, stored[1] % (h * w) == 0 {
                (o, c) = (stored[0], stored[1] / (h * w))
            } else {
                return fail("expected (out, channels x \(h) x \(w)) or (out, channels, \(h), \(w)), the flatten of a "
                            + "\(h)x\(w) feature map")
            }
            return .success(Plan(view: [o, c, h, w], order: [2, 3, 1, 0], delivered: [h * w * c, o]))
        }
    }

    /// The stored shape a tensor delivered as `delivered` has under this conversion (the writer's
    /// inverse of `plan`): `[kh, kw, in, out]` -> `[out, in, kh, kw]` and so on.
    public func storedShape(delivered: [Int]) -> [Int]? {
        switch self {
        case .asStored: return delivered
        case .convolutionKernel:
            guard delivered.count == 4 else { return nil }
            return [delivered[3], delivered[2], delivered[0], delivered[1]]
        case .denseKernel:
            guard delivered.count == 2 else { return nil }
            return [delivered[1], delivered[0]]
        case let .flattenedDenseKernel(h, w):
            guard delivered.count == 2, h > 0, w > 0, delivered[0] % (h * w) == 0 else { return nil }
            return [delivered[1], delivered[0]]
        }
    }

    /// For each view axis, the step in elements between neighbours in the delivered tensor.
    static func deliveredSteps(_ plan: Plan) -> [Int] {
        var steps = [Int](repeating: 0, count: plan.view.count)
        var step = 1
        for k in plan.order.indices.reversed() {
            steps[plan.order[k]] = step
            step *= plan.view[plan.order[k]]
        }
        return steps
    }
}

/// Visits every element of a tensor of shape `shape` in row-major order, in runs along the last
/// axis: `visit(sourceOffsetOfRun, destinationOffsetOfRun)`, where offsets advance by
/// `sourceSteps` and `destinationSteps` per axis.
func forEachRun(_ shape: [Int], sourceSteps: [Int], destinationSteps: [Int],
                _ visit: (_ source: Int, _ destination: Int) throws -> Void) rethrows {
    guard !shape.contains(0) else { return }
    guard let last = shape.indices.last else { try visit(0, 0); return }
    var index = [Int](repeating: 0, count: shape.count)
    var source = 0, destination = 0
    while true {
        try visit(source, destination)
        var axis = last - 1
        while axis >= 0 {
            index[axis] += 1
            source += sourceSteps[axis]
            destination += destinationSteps[axis]
            if index[axis] < shape[axis] { break }
            source -= sourceSteps[axis] * shape[axis]
            destination -= destinationSteps[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
        if axis < 0 { return }
    }
}

/// Why a layout conversion does not fit a stored shape.
struct LayoutError: Error {
    let message: String
}
