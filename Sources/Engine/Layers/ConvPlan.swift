import Foundation

/// How a convolution is cut into tiles for im2col + GEMM.
///
/// A tile is a band of whole output rows, counted across the batch (row `image * outHeight + oy`), so a
/// tile may run on into the next image: small late-stage images still give GEMMs of a useful height.
/// Its im2col matrix (rows of kh*kw*C/groups patch values) lives in a per-thread scratch buffer of
/// bounded size, so scratch memory does not grow with the batch. Bands are tall enough that bands two
/// apart never touch the same input rows; the input gradient is scattered in two phases (even bands,
/// then odd bands), so threads never write the same element at once and the summation order is fixed.
struct ConvPlan {
    let batch: Int, height: Int, width: Int, channels: Int
    let outHeight: Int, outWidth: Int, filters: Int
    let kh: Int, kw: Int, sh: Int, sw: Int, dh: Int, dw: Int, padTop: Int, padLeft: Int
    let groups: Int, groupChannels: Int, groupFilters: Int
    /// Columns of the im2col matrix: kh * kw * channels / groups.
    let patch: Int
    let bandRows: Int
    /// A 1x1, stride-1, unpadded convolution: the input rows are the GEMM's left operand as they are.
    let pointwise: Bool
    /// Ranges of output rows across the batch.
    let tiles: [Range<Int>]

    /// Upper bound on one thread's im2col scratch, in floats (4 MiB).
    static let scratchBudget = Int(ProcessInfo.processInfo.environment["ZOO_SCRATCH"] ?? "") ?? (1 << 20)
    /// Output pixels a tile should have at least: below this the GEMM's fixed costs (packing the
    /// kernel, partial micro-tiles) dominate; measured 60 GFLOP/s at 7 pixels, 210+ from about 100.
    static let minimumTilePixels = 128

    init(conv: Conv2D, inputShape s: [Int]) {
        let g = conv.geometry(s)
        batch = s[0]; height = s[1]; width = s[2]; channels = s[3]
        outHeight = g.outHeight; outWidth = g.outWidth; filters = conv.filters
        kh = conv.kernelSize.height; kw = conv.kernelSize.width
        sh = conv.strides.height; sw = conv.strides.width
        dh = conv.dilation.height; dw = conv.dilation.width
        padTop = g.rows.padBegin; padLeft = g.cols.padBegin
        groups = conv.groups; groupChannels = channels / groups; groupFilters = filters / groups
        patch = kh * kw * groupChannels
        pointwise = conv.isPointwise

        // Bands two apart must not overlap in the input: (rows + 1) * sh >= (kh - 1) * dh + 1.
        let extent = (kh - 1) * dh + 1
        let minRows = max(1, (extent + sh - 1) / sh)
        let totalRows = batch * outHeight
        let budgetRows = max(1, ConvPlan.scratchBudget / max(1, outWidth * patch))
        let pixelRows = (ConvPlan.minimumTilePixels + outWidth - 1) / outWidth
        // Aim for at least four bands per thread so the pool stays balanced, but not below pixelRows.
        let balanceRows = totalRows / (4 * Parallel.threadCount)
        let target = max(minRows, min(budgetRows, totalRows, max(pixelRows, balanceRows)))
        // Equal bands: 14 rows in bands of 10 would leave a 4-row remainder for the second thread.
        let count = (totalRows + target - 1) / target
        let rows = max(minRows, (totalRows + count - 1) / count)
        bandRows = rows
        tiles = stride(from: 0, to: totalRows, by: rows).map { $0..<min(totalRows, $0 + rows) }
    }

    var scratchCount: Int { bandRows * outWidth * patch }

    /// First output pixel (row of the output matrix) of a tile.
    func firstPixel(_ tile: Range<Int>) -> Int { tile.lowerBound * outWidth }

    /// The walk im2col and its inverse share, in the patch matrix's order: for each output pixel
    /// of `tile` and each kernel row, `body(row, ix0)`, where `row` is the offset of the input row
    /// that kernel row reads (at the group's first channel; nil in the padding) and `ix0` the
    /// input column of the kernel's first column. Each call stands for `kw * groupChannels` values.
    @inline(__always)
    private func forEachKernelRow(_ tile: Range<Int>, group: Int, _ body: (_ row: Int?, _ ix0: Int) -> Void) {
        for row in tile {
            let oy = row % outHeight
            let image = (row / outHeight) * height * width * channels + group * groupChannels
            for ox in 0..<outWidth {
                let ix0 = ox * sw - padLeft
                for ky in 0..<kh {
                    let iy = oy * sh - padTop + ky * dh
                    body(iy < 0 || iy >= height ? nil : image + iy * width * channels, ix0)
                }
            }
        }
    }

    /// Fills `col` with the tile's patches for one group: one row of `patch` values per output pixel.
    func im2col(_ x: UnsafePointer<Float>, tile: Range<Int>, group: Int, into col: UnsafeMutablePointer<Float>) {
        let contiguousRow = dw == 1 && groups == 1   // a kernel row is kw*C contiguous floats
        let span = kw * groupChannels
        var dst = col
        forEachKernelRow(tile, group: group) { row, ix0 in
            defer { dst += span }
            guard let row else { dst.update(repeating: 0, count: span); return }
            let rowBase = x + row
            if contiguousRow && ix0 >= 0 && ix0 + kw <= width {
                dst.update(from: rowBase + ix0 * channels, count: span)
                return
            }
            for kx in 0..<kw {
                let ix = ix0 + kx * dw, d = dst + kx * groupChannels
                if ix < 0 || ix >= width {
                    d.update(repeating: 0, count: groupChannels)
                } else {
                    d.update(from: rowBase + ix * channels, count: groupChannels)
                }
            }
        }
    }

    /// Adds a tile's patch gradients for one group back onto the input gradient.
    func col2imAdd(_ col: UnsafePointer<Float>, tile: Range<Int>, group: Int, into dx: UnsafeMutablePointer<Float>) {
        let span = kw * groupChannels
        var src = col
        forEachKernelRow(tile, group: group) { row, ix0 in
            defer { src += span }
            guard let row else { return }
            for kx in 0..<kw {
                let ix = ix0 + kx * dw
                guard ix >= 0 && ix < width else { continue }
                let d = dx + row + ix * channels, g = src + kx * groupChannels
                for c in 0..<groupChannels { d[c] += g[c] }
            }
        }
    }

    /// Filter blocks the forward splits each tile into: one while there are enough tiles to share
    /// out, more when there are not (a late-stage layer at batch 1 has one or two), so both threads
    /// work and each streams only its share of the kernel. Blocks are whole 32-column micro-tiles.
    func columnBlocks(_ activation: Activation) -> Int {
        let threads = Parallel.threadCount
        guard threads > 1, groups == 1, activation != .softmax, tiles.count < 2 * threads else { return 1 }
        return min((2 * threads + tiles.count - 1) / tiles.count, max(1, filters / 64))
    }

    /// y = activation(conv(x, kernel) * scale + shift), tile by tile: each tile's GEMM is followed at once
    /// by its bias-and-activation epilogue while the tile is still in cache.
    func forward(x: UnsafePointer<Float>, kernel: UnsafePointer<Float>, scale: UnsafePointer<Float>?,
                 shift: UnsafePointer<Float>?, activation: Activation, y: UnsafeMutablePointer<Float>) {
        let blocks = columnBlocks(activation)
        let units = (filters + 31) / 32
        Parallel.forRanges(tiles.count * blocks) { range in
            let col = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            defer { col?.deallocate() }
            var patchesOf = -1   // the tile whose patches `col` holds
            for item in range {
                let t = item / blocks
                let tile = tiles[t]
                let pixels = tile.count * outWidth
                let yTile = y + firstPixel(tile) * filters
                if blocks > 1 {
                    let unitRange = Parallel.partition(units, parts: blocks, part: item % blocks)
                    let c0 = unitRange.lowerBound * 32, c1 = min(filters, unitRange.upperBound * 32)
                    guard c0 < c1 else { continue }
                    let a: UnsafePointer<Float>, lda: Int
                    if let col {
                        if patchesOf != t { im2col(x, tile: tile, group: 0, into: col); patchesOf = t }
                        a = UnsafePointer(col); lda = patch
                    } else {
                        a = x + firstPixel(tile) * channels; lda = channels
                    }
                    BLAS.sgemm(m: pixels, n: c1 - c0, k: lda, a: a, lda: lda, b: kernel + c0, ldb: filters, beta: 0,
                               c: yTile + c0, ldc: filters)
                    for p in 0..<pixels {
                        activation.epilogue(yTile + p * filters + c0, rows: 1, columns: c1 - c0, scale: scale.map { $0 + c0 },
                                            shift: shift.map { $0 + c0 })
                    }
                    continue
                }
                if let col {
                    for g in 0..<groups {
                        im2col(x, tile: tile, group: g, into: col)
                        BLAS.sgemm(m: pixels, n: groupFilters, k: patch, a: col, lda: patch, b: kernel + g * groupFilters,
                                   ldb: filters, beta: 0, c: yTile + g * groupFilters, ldc: filters)
                    }
                } else {
                    BLAS.sgemm(m: pixels, n: filters, k: channels, a: x + firstPixel(tile) * channels, lda: channels,
                               b: kernel, ldb: filters, beta: 0, c: yTile, ldc: filters)
                }
                activation.epilogue(yTile, rows: pixels, columns: filters, scale: scale, shift: shift)
            }
        }
    }

    /// dw += im2col(x)^T * dy, one partial sum per thread, added in thread order.
    func accumulateKernelGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>) {
        let parts = max(1, min(Parallel.threadCount, tiles.count))
        let size = patch * filters
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: parts * size)
        partials.initialize(repeating: 0, count: parts * size)
        defer { partials.deallocate() }
        Parallel.run(parts: parts) { part in
            let col = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            defer { col.deallocate() }
            let acc = partials + part * size
            for t in Parallel.partition(tiles.count, parts: parts, part: part) {
                let tile = tiles[t]
                let pixels = tile.count * outWidth
                let dyTile = dy + firstPixel(tile) * filters
                for g in 0..<groups {
                    im2col(x, tile: tile, group: g, into: col)
                    BLAS.sgemm(transA: true, m: patch, n: groupFilters, k: pixels, a: col, lda: patch,
                               b: dyTile + g * groupFilters, ldb: filters, beta: 1, c: acc + g * groupFilters, ldc: filters)
                }
            }
        }
        Parallel.forRanges(size, minimumChunk: 4096) { r in
            for p in 0..<parts {
                let acc = partials + p * size
                for i in r { dw[i] += acc[i] }
            }
        }
    }

    /// dx = col2im(dy * kernel^T), even bands first, then odd bands.
    func inputGradient(dy: UnsafePointer<Float>, kernel: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        dx.update(repeating: 0, count: batch * height * width * channels)
        for parity in 0..<2 {
            let mine = stride(from: parity, to: tiles.count, by: 2).map { $0 }
            Parallel.forRanges(mine.count) { range in
                let col = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
                defer { col.deallocate() }
                for i in range {
                    let tile = tiles[mine[i]]
                    let pixels = tile.count * outWidth
                    let dyTile = dy + firstPixel(tile) * filters
                    for g in 0..<groups {
                        BLAS.sgemm(transB: true, m: pixels, n: patch, k: groupFilters, a: dyTile + g * groupFilters,
                                   lda: filters, b: kernel + g * groupFilters, ldb: filters, beta: 0, c: col, ldc: patch)
                        col2imAdd(col, tile: tile, group: g, into: dx)
                    }
                }
            }
        }
    }
}
