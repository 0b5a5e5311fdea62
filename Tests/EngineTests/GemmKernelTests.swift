import XCTest
@testable import Engine

/// Our sgemm kernels (CKernels) against OpenBLAS's cblas_sgemm: every instruction-set path this CPU
/// runs, all transpose combinations, alpha/beta variants, leading dimensions above the minimum, and
/// shapes that leave remainders in M, N and K at every blocking level.
final class GemmKernelTests: XCTestCase {
    /// One product: C = alpha * op(A) * op(B) + beta * C with the given leading dimensions.
    struct Case: CustomStringConvertible {
        var m: Int, n: Int, k: Int
        var transA = false, transB = false
        var alpha: Float = 1, beta: Float = 0
        var lda: Int, ldb: Int, ldc: Int

        init(m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false, alpha: Float = 1, beta: Float = 0,
             pad: (a: Int, b: Int, c: Int) = (0, 0, 0)) {
            self.m = m; self.n = n; self.k = k; self.transA = transA; self.transB = transB
            self.alpha = alpha; self.beta = beta
            lda = (transA ? m : k) + pad.a; ldb = (transB ? k : n) + pad.b; ldc = n + pad.c
        }

        var aCount: Int { (transA ? k : m) * lda }
        var bCount: Int { (transB ? n : k) * ldb }
        var description: String {
            "M \(m) N \(n) K \(k) \(transA ? "T" : "N")\(transB ? "T" : "N") alpha \(alpha) beta \(beta) "
                + "lda \(lda) ldb \(ldb) ldc \(ldc)"
        }
    }

    /// The zoo kernels this CPU can run (the portable path always).
    var zooKernels: [BLAS.Kernel] { [.avx512, .avx2, .portable].filter(\.isSupported) }

    func random(_ count: Int, _ g: RandomGenerator) -> [Float] { (0..<count).map { _ in g.uniform(-1, 1) } }

    /// C after the product under `kernel`.
    func run(_ c: Case, kernel: BLAS.Kernel, a: [Float], b: [Float], c0: [Float]) -> [Float] {
        let saved = BLAS.kernel
        BLAS.kernel = kernel
        defer { BLAS.kernel = saved }
        XCTAssertEqual(BLAS.kernel, kernel)
        var out = c0
        out.withUnsafeMutableBufferPointer { cp in
            BLAS.sgemm(transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: c.alpha, a: a, lda: c.lda,
                       b: b, ldb: c.ldb, beta: c.beta, c: cp.baseAddress!, ldc: c.ldc)
        }
        return out
    }

    /// Checks every zoo kernel against OpenBLAS on one case; NaNs planted in C must vanish when beta == 0,
    /// and the padding columns of C must keep their values.
    func check(_ c: Case, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        let g = RandomGenerator(seed: seed)
        let a = random(c.aCount, g), b = random(c.bCount, g)
        var c0 = random(c.m * c.ldc, g)
        if c.beta == 0 { for i in stride(from: 0, to: c0.count, by: 3) where i % c.ldc < c.n { c0[i] = .nan } }
        let reference = run(c, kernel: .openBLAS, a: a, b: b, c0: c0)
        // Error scale per element: the sum of |products| (a float dot product's error grows with it and with K).
        let absA = a.map(abs), absB = b.map(abs)
        var scale = [Float](repeating: 0, count: c.m * c.ldc)
        scale.withUnsafeMutableBufferPointer { sp in
            BLAS.sgemm(transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: abs(c.alpha), a: absA,
                       lda: c.lda, b: absB, ldb: c.ldb, beta: 0, c: sp.baseAddress!, ldc: c.ldc)
        }
        let tolerance = 1e-5 * max(1, Float(c.k) / 256)
        for kernel in zooKernels {
            let got = run(c, kernel: kernel, a: a, b: b, c0: c0)
            for i in 0..<c.m {
                for j in 0..<c.ldc {
                    let x = i * c.ldc + j
                    if j >= c.n {
                        if got[x] != c0[x] && !(got[x].isNaN && c0[x].isNaN) {
                            return XCTFail("\(kernel) \(c): wrote padding C[\(i), \(j)]", file: file, line: line)
                        }
                        continue
                    }
                    let bound = tolerance * (scale[x] + (c.beta == 0 ? 0 : abs(c.beta * c0[x]))) + 1e-6
                    if !(abs(got[x] - reference[x]) <= bound) {
                        return XCTFail("\(kernel) \(c): C[\(i), \(j)] = \(got[x]), OpenBLAS \(reference[x])",
                                       file: file, line: line)
                    }
                }
            }
        }
    }

    func testSmallShapesEveryTransposeAndScaling() {
        let g = RandomGenerator(seed: 2024)
        let alphas: [Float] = [1, -0.5, 2], betas: [Float] = [0, 1, 0.3]
        for t in 0..<400 {
            let c = Case(m: 1 + g.nextInt(below: 70), n: 1 + g.nextInt(below: 70), k: 1 + g.nextInt(below: 70),
                         transA: t & 1 == 1, transB: t & 2 == 2, alpha: alphas[g.nextInt(below: 3)],
                         beta: betas[g.nextInt(below: 3)],
                         pad: (g.nextInt(below: 4), g.nextInt(below: 4), g.nextInt(below: 4)))
            check(c, seed: UInt64(t))
        }
    }

    /// Whole micro-tiles exactly, and one row or column either side of them.
    func testTileBoundaries() {
        var seed: UInt64 = 1
        for m in [11, 12, 13, 24, 25] {
            for n in [15, 16, 17, 31, 32, 33, 64] {
                for trans in 0..<4 {
                    check(Case(m: m, n: n, k: 9, transA: trans & 1 == 1, transB: trans & 2 == 2, beta: 1), seed: seed)
                    seed += 1
                }
            }
        }
    }

    /// Several K blocks (beta applies once), several N blocks, M edges, and the conv shapes' transposes.
    func testLargeShapes() {
        let cases = [
            Case(m: 203, n: 600, k: 901, beta: 0.5, pad: (3, 1, 2)),
            Case(m: 130, n: 70, k: 1153, transA: true, beta: 1),
            Case(m: 147, n: 64, k: 2000, transA: true, beta: 1),         // ResNet stem weight gradient
            Case(m: 300, n: 288, k: 800, transA: true, alpha: -1),     // wide N: A is packed
            Case(m: 392, n: 1152, k: 256, transB: true),                // VGG input gradient tile
            Case(m: 97, n: 530, k: 400, transA: true, transB: true, alpha: 0.25, beta: 2, pad: (5, 0, 7)),
        ]
        for (i, c) in cases.enumerated() { check(c, seed: UInt64(100 + i)) }
    }

    /// K = 0 or alpha = 0 leaves beta * C (beta = 0: zeros, even over NaN), like cblas_sgemm.
    func testEmptyProductScalesC() {
        for kernel in zooKernels {
            for (k, alpha) in [(0, Float(1)), (5, Float(0))] {
                for beta: Float in [0, 1, -2] {
                    let a = [Float](repeating: 1, count: 15), b = [Float](repeating: 1, count: 20)
                    let c0: [Float] = [1, .nan, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
                    let got = run(Case(m: 3, n: 4, k: k, alpha: alpha, beta: beta), kernel: kernel, a: a, b: b, c0: c0)
                    for (x, v) in got.enumerated() {
                        let expected = beta == 0 ? 0 : beta * c0[x]
                        XCTAssert(v == expected || (v.isNaN && expected.isNaN), "\(kernel) K \(k) alpha \(alpha) beta \(beta)")
                    }
                }
            }
        }
    }

    /// The engine runs the fastest path the CPU has, and can be switched for comparisons.
    func testDefaultKernelIsTheFastestSupported() {
        let expected: BLAS.Kernel = BLAS.Kernel.avx512.isSupported ? .avx512 : BLAS.Kernel.avx2.isSupported ? .avx2 : .openBLAS
        XCTAssertEqual(BLAS.defaultKernel, expected)
        XCTAssertEqual(BLAS.kernel, expected)
        XCTAssertTrue(BLAS.kernelDescription.hasSuffix(expected == .openBLAS ? "" : "\(expected)"), BLAS.kernelDescription)
    }

    /// A convolution's forward and both gradients agree between our kernels and OpenBLAS.
    func testConvolutionAgreesWithOpenBLAS() throws {
        let conv = Conv2D(name: "conv", inputChannels: 5, filters: 40, kernelSize: (3, 3), padding: .same)
        let x = randomTensor([2, 9, 11, 5], seed: 3)
        func pass(_ kernel: BLAS.Kernel) throws -> [Tensor] {
            let saved = BLAS.kernel
            BLAS.kernel = kernel
            defer { BLAS.kernel = saved }
            conv.zeroGradients()
            let y = try conv.forward(x, mode: .training)
            let dx = try XCTUnwrap(conv.backward(y, needsInputGradient: true))
            return [y, dx, conv.kernel.gradient]
        }
        let reference = try pass(.openBLAS)
        for kernel in zooKernels {
            for (got, want) in zip(try pass(kernel), reference) {
                XCTAssertEqual(got.shape, want.shape)
                for i in 0..<got.count {
                    XCTAssertEqual(got[flat: i], want[flat: i], accuracy: 1e-4 * max(1, abs(want[flat: i])), "\(kernel)")
                }
            }
        }
    }
}
