/// The windows of a pooling op along one axis, as in-bounds cell ranges.
///
/// Every pooling layer (fixed windows with padding and ceil mode, adaptive bins) reduces to this:
/// output `o` reads input cells `start[o]..<end[o]`, and an average divides by `divisor[o]`
/// (per axis; the 2-D divisor is the product of the two axes'). `covering[i]` lists the outputs
/// whose window holds input `i`, so backward can gather per input row instead of scattering,
/// which keeps it parallel over rows and its sums in a fixed order.
struct PoolAxis {
    let inputSize: Int
    private(set) var start: [Int] = [], end: [Int] = [], divisor: [Int] = []
    private(set) var covering: [Range<Int>] = []

    var outputSize: Int { start.count }

    /// Fixed windows from `axis`. Cells in padding or in the ceil-mode overhang are never read.
    /// With `countPadding` the divisor is PyTorch's `count_include_pad` one: the window clipped
    /// to the padded input (input + both paddings) but not to the ceil-mode overhang beyond it.
    init(_ axis: WindowAxis, countPadding: Bool) {
        inputSize = axis.input
        for o in 0..<axis.output {
            let rawStart = o * axis.stride - axis.padBegin
            let paddedEnd = min(rawStart + axis.kernel, axis.input + axis.padEnd)
            let s = max(rawStart, 0), e = min(paddedEnd, axis.input)
            start.append(s); end.append(e)
            divisor.append(countPadding ? paddedEnd - rawStart : e - s)
        }
        covering = Self.coveringRanges(start: start, end: end, inputSize: inputSize)
    }

    /// PyTorch's adaptive bins: output `o` of `n` averages floor(o*N/n) ..< ceil((o+1)*N/n).
    init(adaptiveInput input: Int, output n: Int) {
        inputSize = input
        for o in 0..<n {
            let s = (o * input) / n, e = ((o + 1) * input + n - 1) / n
            start.append(s); end.append(e); divisor.append(e - s)
        }
        covering = Self.coveringRanges(start: start, end: end, inputSize: inputSize)
    }

    /// For each input cell, the outputs whose window contains it: a contiguous range, because
    /// window starts and ends both grow with the output index.
    private static func coveringRanges(start: [Int], end: [Int], inputSize: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(inputSize)
        var first = 0, last = 0
        for i in 0..<inputSize {
            while first < start.count && end[first] <= i { first += 1 }
            last = max(last, first)
            while last < start.count && start[last] <= i { last += 1 }
            ranges.append(first..<max(first, last))
        }
        return ranges
    }

    /// True when every window holds at least one input cell (a window wholly in padding has no
    /// maximum and no average).
    var everyWindowTouchesInput: Bool { zip(start, end).allSatisfy { $0 < $1 } }
}

/// The two axes of a 2-D pooling op on an NHWC `(batch, rows.inputSize, cols.inputSize, channels)` tensor.
struct PoolPlan {
    let rows: PoolAxis, cols: PoolAxis
    let batch: Int, channels: Int

    var inputShape: [Int] { [batch, rows.inputSize, cols.inputSize, channels] }
    var outputShape: [Int] { [batch, rows.outputSize, cols.outputSize, channels] }

    // MARK: Max

    /// Window maxima into `y`; with `argmax`, also each maximum's cell as `row * width + col`
    /// within its image. The first maximum in row-major order wins ties and NaN propagates,
    /// as in PyTorch, so the gradient goes where PyTorch sends it.
    func maxForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?) {
        let H = rows.inputSize, W = cols.inputSize, OH = rows.outputSize, OW = cols.outputSize, C = channels
        Parallel.forRanges(batch * OH, minimumChunk: 4) { range in
            for line in range {
                let n = line / OH, oh = line % OH
                for ow in 0..<OW {
                    let o = (line * OW + ow) * C
                    let yo = y + o
                    let h0 = rows.start[oh], h1 = rows.end[oh], w0 = cols.start[ow], w1 = cols.end[ow]
                    yo.update(repeating: -.infinity, count: C)
                    if let argmax {
                        let ao = argmax + o
                        ao.update(repeating: Int32(h0 * W + w0), count: C)
                        for ih in h0..<h1 {
                            for iw in w0..<w1 {
                                let xi = x + ((n * H + ih) * W + iw) * C
                                maxWithArgmax(xi, yo, ao, cell: Int32(ih * W + iw), channels: C)
                            }
                        }
                    } else {
                        for ih in h0..<h1 {
                            for iw in w0..<w1 {
                                let xi = x + ((n * H + ih) * W + iw) * C
                                for c in 0..<C {
                                    let v = xi[c], m = yo[c]
                                    yo[c] = v > m || v != v ? v : m
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One window cell into the running maxima `y` and their cells `a`, eight channels at a time
    /// (the compiler does not vectorize the float-compare / int-select pair on its own).
    @inline(__always)
    private func maxWithArgmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                               _ a: UnsafeMutablePointer<Int32>, cell: Int32, channels: Int) {
        var c = 0
        while c + 8 <= channels {
            let v = UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<Float>.self)
            var m = UnsafeRawPointer(y + c).loadUnaligned(as: SIMD8<Float>.self)
            var i = UnsafeRawPointer(a + c).loadUnaligned(as: SIMD8<Int32>.self)
            let take = (v .> m) .| (v .!= v)
            m.replace(with: v, where: take)
            i.replace(with: cell, where: take)
            UnsafeMutableRawPointer(y + c).storeBytes(of: m, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(a + c).storeBytes(of: i, as: SIMD8<Int32>.self)
            c += 8
        }
        while c < channels {
            let v = x[c]
            if v > y[c] || v.isNaN { y[c] = v; a[c] = cell }
            c += 1
        }
    }

    /// dx: each window's gradient goes to its argmax cell, gathered per input row.
    func maxBackward(dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>) {
        gatherBackward(into: dx) { dxi, o, _, _, cell in addWhereArgmax(dy + o, argmax + o, cell: cell, into: dxi, channels: channels) }
    }

    /// The backward passes' shared walk: zeroes dx, then for every input cell (row-parallel, in a
    /// fixed order) calls `add(dxi, o, oh, ow, cell)` for each window (oh, ow) that holds it; `dxi`
    /// is the cell's gradient, `o` the window's offset in the output, `cell` its index in its image.
    @inline(__always)
    private func gatherBackward(into dx: UnsafeMutablePointer<Float>,
                                _ add: (UnsafeMutablePointer<Float>, Int, Int, Int, Int32) -> Void) {
        let H = rows.inputSize, W = cols.inputSize, OH = rows.outputSize, OW = cols.outputSize, C = channels
        Parallel.forRanges(batch * H, minimumChunk: 4) { range in
            for line in range {
                let n = line / H, ih = line % H
                let dxRow = dx + line * W * C
                dxRow.update(repeating: 0, count: W * C)
                for oh in rows.covering[ih] {
                    for iw in 0..<W {
                        let cell = Int32(ih * W + iw)
                        let dxi = dxRow + iw * C
                        for ow in cols.covering[iw] { add(dxi, ((n * OH + oh) * OW + ow) * C, oh, ow, cell) }
                    }
                }
            }
        }
    }

    /// dx[c] += dy[c] where the window's maximum of channel c came from `cell`, eight at a time.
    @inline(__always)
    private func addWhereArgmax(_ g: UnsafePointer<Float>, _ a: UnsafePointer<Int32>, cell: Int32,
                                into dx: UnsafeMutablePointer<Float>, channels: Int) {
        var c = 0
        while c + 8 <= channels {
            let i = UnsafeRawPointer(a + c).loadUnaligned(as: SIMD8<Int32>.self)
            var d = UnsafeRawPointer(dx + c).loadUnaligned(as: SIMD8<Float>.self)
            let v = UnsafeRawPointer(g + c).loadUnaligned(as: SIMD8<Float>.self)
            // Lane mask from integer ops: (x | -x) has its sign bit set exactly when x != 0.
            // (`replacing(with:where:)` compiles to a per-lane loop here.)
            let diff = i &- SIMD8(repeating: cell)
            let differs = (diff | (0 &- diff)) &>> 31
            d += unsafeBitCast(unsafeBitCast(v, to: SIMD8<Int32>.self) & ~differs, to: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dx + c).storeBytes(of: d, as: SIMD8<Float>.self)
            c += 8
        }
        while c < channels {
            if a[c] == cell { dx[c] += g[c] }
            c += 1
        }
    }

    // MARK: Average

    /// Window sums divided by the window's divisor (summed then divided, as PyTorch does).
    func averageForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let H = rows.inputSize, W = cols.inputSize, OH = rows.outputSize, OW = cols.outputSize, C = channels
        Parallel.forRanges(batch * OH, minimumChunk: 4) { range in
            for line in range {
                let n = line / OH, oh = line % OH
                for ow in 0..<OW {
                    let yo = y + (line * OW + ow) * C
                    yo.update(repeating: 0, count: C)
                    for ih in rows.start[oh]..<rows.end[oh] {
                        for iw in cols.start[ow]..<cols.end[ow] {
                            let xi = x + ((n * H + ih) * W + iw) * C
                            for c in 0..<C { yo[c] += xi[c] }
                        }
                    }
                    let d = Float(rows.divisor[oh] * cols.divisor[ow])
                    for c in 0..<C { yo[c] /= d }
                }
            }
        }
    }

    /// dx: every input cell gathers dy / divisor from each window that holds it.
    func averageBackward(dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let C = channels
        gatherBackward(into: dx) { dxi, o, oh, ow, _ in
            let g = dy + o
            let d = Float(rows.divisor[oh] * cols.divisor[ow])
            for c in 0..<C { dxi[c] += g[c] / d }
        }
    }
}
