import CKernels
import Foundation

/// Winograd F(m x m, 3 x 3) for stride-1, ungrouped 3x3 convolutions (Lavin & Gray 2016): each m x m
/// block of outputs costs (m + 2)^2 multiplies per input/output channel pair instead of 9 m^2, done as
/// (m + 2)^2 GEMMs between transformed input tiles and transformed kernels. m = 4 does 4x less work than
/// direct convolution, m = 2 2.25x. Measured against float64 (`WinogradTests`), F(2x2) errs no more than
/// direct convolution, F(4x4) about 10x more (6e-6 of the output's scale on a 512-channel layer), so
/// F(2x2) is the default and F(4x4) opt-in. Transformed kernels are cached per layer (`WinogradKernelCache`).
struct WinogradPlan {
    /// Output block size m; tiles are t x t with t = m + 2.
    let m: Int
    var t: Int { m + 2 }
    var points: Int { t * t }
    let geometry: zoo_winograd_geometry
    let tileCount: Int
    /// Tiles transformed and multiplied together: the GEMMs' height.
    let tilesPerBlock: Int
    /// Parts the filters are split into when there are too few tile blocks to keep every thread busy.
    let filterBlocks: Int

    /// The output block size for eligible convolutions (`Conv2D.winogradOutputTile`).
    static var outputTile: Int = {
        switch ProcessInfo.processInfo.environment["ZOO_WINOGRAD"] {
        case "0": return 0
        case "4": return 4
        default: return 2
        }
    }()

    /// Fewer tiles than this leave the GEMMs too short to pay for streaming the larger transformed
    /// kernel: a 7x7 layer at batch 1 (16 tiles) ran 1.7x slower than direct convolution, 49 tiles 1.4x faster.
    static var minimumTiles = 32

    /// Fewer input or output channels than this leave the GEMMs too thin to gain (VGG's first layer has 3).
    static let minimumChannels = 16

    /// Floats of transformed tiles and products one thread keeps (8 MiB: they are streamed once per
    /// block, so L3 holds them; the GEMMs' own blocking keeps the hot panels in L2).
    static let scratchBudget = 1 << 21

    /// `n` rounded up to whole 16-float vectors, as the transforms lay out channels.
    static func padded(_ n: Int) -> Int { (n + 15) / 16 * 16 }

    /// The distance between two points' matrices: at least `floats`, and one cache line past a multiple of
    /// 4 KiB, so the t * t streams the transforms read and write fall in different L1 sets (a multiple of
    /// 4 KiB put them all in one set and measured up to 1.5x slower).
    static func pointStride(_ floats: Int) -> Int { (floats + 1023) / 1024 * 1024 + 16 }

    /// A plan for `conv` on `inputShape`, or nil when Winograd does not apply (not stride-1 3x3,
    /// grouped, dilated, or an activation other than linear and ReLU) or is switched off.
    init?(conv: Conv2D, inputShape s: [Int], activation: Activation, outputTile: Int = WinogradPlan.outputTile) {
        guard WinogradPlan.applies(to: conv), activation == .linear || activation == .relu else { return nil }
        let g = conv.geometry(s)
        self.init(batch: s[0], outputTile: outputTile, geometry: zoo_winograd_geometry(
            height: s[1], width: s[2], channels: s[3], out_height: g.outHeight, out_width: g.outWidth,
            filters: conv.filters, pad_top: g.rows.padBegin, pad_left: g.cols.padBegin, tiles_y: 0, tiles_x: 0))
    }

    /// A plan for the input gradient of `conv` on `inputShape`: dx is the convolution of dy with the kernel
    /// turned 180 degrees and its channel axes swapped (`transformGradientKernel`), padded by 2 - pad,
    /// so it is Winograd-eligible exactly when the forward is.
    init?(inputGradientOf conv: Conv2D, inputShape s: [Int], outputTile: Int = WinogradPlan.outputTile) {
        guard WinogradPlan.applies(to: conv) else { return nil }
        let g = conv.geometry(s)
        guard (0...2).contains(g.rows.padBegin), (0...2).contains(g.cols.padBegin) else { return nil }
        self.init(batch: s[0], outputTile: outputTile, geometry: zoo_winograd_geometry(
            height: g.outHeight, width: g.outWidth, channels: conv.filters, out_height: s[1], out_width: s[2],
            filters: s[3], pad_top: 2 - g.rows.padBegin, pad_left: 2 - g.cols.padBegin, tiles_y: 0, tiles_x: 0))
    }

    /// Stride-1, undilated, ungrouped 3x3 convolutions.
    private static func applies(to conv: Conv2D) -> Bool {
        conv.kernelSize == (3, 3) && conv.strides == (1, 1) && conv.dilation == (1, 1) && conv.groups == 1
    }

    private init?(batch: Int, outputTile: Int, geometry shape: zoo_winograd_geometry) {
        guard outputTile == 2 || outputTile == 4, shape.channels >= WinogradPlan.minimumChannels,
              shape.filters >= WinogradPlan.minimumChannels else { return nil }
        m = outputTile
        var shape = shape
        shape.tiles_y = (shape.out_height + m - 1) / m
        shape.tiles_x = (shape.out_width + m - 1) / m
        geometry = shape
        tileCount = batch * shape.tiles_y * shape.tiles_x
        guard tileCount >= WinogradPlan.minimumTiles else { return nil }
        let points = (m + 2) * (m + 2), threads = Parallel.threadCount
        let perTile = points * (shape.channels + shape.filters)
        // Blocks of whole 12-row micro-panels, within the scratch budget and leaving every thread
        // some blocks to balance.
        let fit = max(12, WinogradPlan.scratchBudget / perTile / 12 * 12)
        let balanced = max(12, (tileCount + 2 * threads - 1) / (2 * threads) + 11) / 12 * 12
        tilesPerBlock = min(fit, balanced, 144)
        let blocks = (tileCount + tilesPerBlock - 1) / tilesPerBlock
        filterBlocks = blocks >= 2 * threads ? 1 : min((2 * threads + blocks - 1) / blocks, max(1, shape.filters / 64))
    }

    /// The kernel (3, 3, C, K), HWIO, as G g G^T at each of the t x t points: (t * t, C, K), computed in
    /// float64 and rounded once.
    static func transformKernel(_ kernel: UnsafePointer<Float>, channels: Int, filters: Int, outputTile m: Int) -> Tensor {
        var u = Tensor(uninitialized: [(m + 2) * (m + 2), channels, filters])
        let out = u.mutableData(), plane = channels * filters
        Parallel.forRanges(plane, minimumChunk: 4096) { r in zoo_winograd_kernel(Int32(m), kernel, plane, r.lowerBound, r.count, out) }
        return u
    }

    /// The transformed kernel of the input gradient's convolution: the (3, 3, C, K) kernel turned 180 degrees
    /// with its channel axes swapped, (3, 3, K, C), then transformed as `transformKernel` does.
    static func transformGradientKernel(_ kernel: UnsafePointer<Float>, channels: Int, filters: Int,
                                        outputTile m: Int) -> Tensor {
        var turned = Tensor(uninitialized: [3, 3, filters, channels])
        let t = turned.mutableData()
        Parallel.forRanges(9 * channels, minimumChunk: 64) { r in
            for i in r {
                let tap = i / channels, c = i % channels
                let src = kernel + (tap * channels + c) * filters, dst = t + (8 - tap) * filters * channels + c
                for k in 0..<filters { dst[k * channels] = src[k] }
            }
        }
        return withExtendedLifetime(turned) { transformKernel(t, channels: filters, filters: channels, outputTile: m) }
    }

    /// y = activation(conv(x) * scale + shift) from the transformed kernel `u`, block by block: a block's
    /// tiles are transformed, multiplied at each point and transformed back while they are in cache.
    func forward(x: UnsafePointer<Float>, u: UnsafePointer<Float>, scale: UnsafePointer<Float>?,
                 shift: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>) {
        let channels = geometry.channels, filters = geometry.filters
        let blocks = (tileCount + tilesPerBlock - 1) / tilesPerBlock
        let units = (filters + 31) / 32
        let widest = (units + filterBlocks - 1) / filterBlocks * 32
        // Rows of transformed tiles and of products are padded to whole 16-float vectors.
        let paddedChannels = WinogradPlan.padded(channels)
        let ldv = WinogradPlan.pointStride(tilesPerBlock * paddedChannels)
        let ldm = WinogradPlan.pointStride(tilesPerBlock * WinogradPlan.padded(min(filters, widest)))
        Parallel.forRanges(blocks * filterBlocks) { range in
            var geometry = self.geometry
            let scratch = points * (ldv + ldm + paddedChannels)
            guard let v = zoo_winograd_scratch(scratch) else { fatalError("out of memory for \(scratch) floats") }
            let products = v + points * ldv, patch = products + points * ldm
            var transformed = -1   // the block whose tiles `v` holds
            for item in range {
                let b = item / filterBlocks
                let first = b * tilesPerBlock, count = min(tilesPerBlock, tileCount - first)
                let unitRange = Parallel.partition(units, parts: filterBlocks, part: item % filterBlocks)
                let k0 = unitRange.lowerBound * 32, k1 = min(filters, unitRange.upperBound * 32)
                guard k0 < k1 else { continue }
                if transformed != b {
                    zoo_winograd_input(&geometry, Int32(m), x, first, count, v, ldv, patch)
                    transformed = b
                }
                let kn = k1 - k0
                for p in 0..<points {
                    BLAS.sgemm(m: count, n: kn, k: channels, a: v + p * ldv, lda: paddedChannels,
                               b: u + p * channels * filters + k0, ldb: filters, beta: 0,
                               c: products + p * ldm, ldc: WinogradPlan.padded(kn))
                }
                zoo_winograd_output(&geometry, Int32(m), products, ldm, first, count, k0, kn, scale, shift,
                                    relu ? 1 : 0, y)
            }
        }
    }
}

/// One layer's transformed kernel, kept between calls and rebuilt when the kernel's `version` or the
/// tile size changes; safe for concurrent forwards (the first builds it, the others wait for it).
final class WinogradKernelCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: (version: Int, outputTile: Int, kernel: Tensor)?

    func kernel(version: Int, outputTile: Int, make: () -> Tensor) -> Tensor {
        lock.lock()
        defer { lock.unlock() }
        if let c = cached, c.version == version, c.outputTile == outputTile { return c.kernel }
        cached = nil   // free the old one before building the new
        let k = make()
        cached = (version, outputTile, k)
        return k
    }
}
