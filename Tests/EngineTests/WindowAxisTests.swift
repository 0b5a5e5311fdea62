import XCTest
@testable import Engine

/// Output-size rules of `WindowAxis` for pooling and convolution, in every padding mode.
final class WindowAxisTests: XCTestCase {
    func axis(_ n: Int, k: Int, s: Int, d: Int = 1, p: Int = 0, ceil: Bool = false) -> WindowAxis {
        WindowAxis(input: n, kernel: k, stride: s, dilation: d, padBegin: p, padEnd: p, ceilMode: ceil)
    }

    func testFloorRule() {
        // floor((N + Pb + Pe - D(F-1) - 1) / S) + 1
        XCTAssertEqual(axis(224, k: 7, s: 2, p: 3).output, 112)     // ResNet stem conv
        XCTAssertEqual(axis(112, k: 3, s: 2, p: 1).output, 56)      // ResNet stem pool
        XCTAssertEqual(axis(227, k: 11, s: 4).output, 55)           // AlexNet conv1
        XCTAssertEqual(axis(10, k: 3, s: 1, d: 2, p: 2).output, 10) // dilated, 'same'-sized
        XCTAssertEqual(axis(9, k: 3, s: 2, d: 3).output, 2)         // effective kernel 7
        XCTAssertEqual(axis(2, k: 3, s: 1).output, 0)               // too small
        XCTAssertEqual(WindowAxis(input: 7, kernel: 3, stride: 2, padBegin: 0, padEnd: 2).output, 4)
    }

    func testCeilModeLastWindowMustStartInside() {
        XCTAssertEqual(axis(112, k: 3, s: 2, ceil: true).output, 56) // GoogLeNet pools
        XCTAssertEqual(axis(112, k: 3, s: 2).output, 55)
        XCTAssertEqual(axis(6, k: 3, s: 2, ceil: true).output, 3)
        XCTAssertEqual(axis(6, k: 3, s: 2).output, 2)
        XCTAssertEqual(axis(7, k: 3, s: 2, ceil: true).output, 3)    // exact fit: ceil adds nothing
        // A plain ceil gives 4, but the 4th window would start at 3*2-1 = 5, in the end padding: dropped.
        XCTAssertEqual(axis(5, k: 2, s: 2, p: 1, ceil: true).output, 3)
        XCTAssertEqual(axis(5, k: 2, s: 2, p: 1).output, 3)
        // Without padding the dropped window would start past the input (index 2 of 2).
        XCTAssertEqual(axis(2, k: 1, s: 2, ceil: true).output, 1)
        // An input shorter than the kernel still gets one clipped window in ceil mode, not in floor mode.
        XCTAssertEqual(axis(2, k: 3, s: 2, ceil: true).output, 1)
        XCTAssertEqual(axis(2, k: 3, s: 2).output, 0)
        XCTAssertEqual(axis(2, k: 3, s: 1, ceil: true).output, 0)
        // Kept: the extra window starts at 2*2-1 = 3, inside the input.
        XCTAssertEqual(axis(4, k: 3, s: 2, p: 1, ceil: true).output, 3)
        XCTAssertEqual(axis(4, k: 3, s: 2, p: 1).output, 2)
    }

    func testSameIsCeilOfInputOverStride() {
        for n in 1...12 {
            for s in 1...4 {
                for k in 1...5 {
                    let a = WindowAxis.same(input: n, kernel: k, stride: s)
                    XCTAssertEqual(a.output, (n + s - 1) / s, "n \(n) k \(k) s \(s)")
                    // Total padding is what the last window needs; the odd one goes at the end.
                    let total = max((a.output - 1) * s + k - n, 0)
                    XCTAssertEqual(a.padBegin + a.padEnd, total)
                    XCTAssertEqual(a.padEnd - a.padBegin, total % 2)
                }
            }
        }
        let dilated = WindowAxis.same(input: 9, kernel: 3, stride: 1, dilation: 2)
        XCTAssertEqual([dilated.output, dilated.padBegin, dilated.padEnd], [9, 2, 2])
    }

    /// Every (N, k, s, d, p, ceil) in torch's max_pool1d table, and conv1d's.
    func testAgainstTorchTables() throws {
        let pool = try NPY.read(fixtureURL("layers/pooling/output_sizes.npy"))
        XCTAssertGreaterThan(pool.shape[0], 500)
        for r in 0..<pool.shape[0] {
            let v = (0..<7).map { Int(pool[r, $0]) }
            XCTAssertEqual(axis(v[0], k: v[1], s: v[2], d: v[3], p: v[4], ceil: v[5] == 1).output, v[6], "pool row \(v)")
        }
        let conv = try NPY.read(fixtureURL("layers/pooling/conv_output_sizes.npy"))
        XCTAssertGreaterThan(conv.shape[0], 500)
        for r in 0..<conv.shape[0] {
            let v = (0..<6).map { Int(conv[r, $0]) }
            XCTAssertEqual(axis(v[0], k: v[1], s: v[2], d: v[3], p: v[4]).output, v[5], "conv row \(v)")
        }
    }

    /// The pool windows derived from an axis: in-bounds ranges, divisors and the reverse map.
    func testPoolAxisWindows() {
        // 6 cells, k3 s2 p1 ceil: windows start at -1, 1, 3, 5; the last reaches 8 but padding ends at 7.
        let a = PoolAxis(axis(6, k: 3, s: 2, p: 1, ceil: true), countPadding: true)
        XCTAssertEqual(a.start, [0, 1, 3, 5])
        XCTAssertEqual(a.end, [2, 4, 6, 6])
        XCTAssertEqual(a.divisor, [3, 3, 3, 2])
        XCTAssertEqual(PoolAxis(axis(6, k: 3, s: 2, p: 1, ceil: true), countPadding: false).divisor, [2, 3, 3, 1])
        XCTAssertEqual(a.covering, [0..<1, 0..<2, 1..<2, 1..<3, 2..<3, 2..<4])
        let adaptive = PoolAxis(adaptiveInput: 5, output: 3)
        XCTAssertEqual(adaptive.start, [0, 1, 3])
        XCTAssertEqual(adaptive.end, [2, 4, 5])
        XCTAssertEqual(adaptive.covering, [0..<1, 0..<2, 1..<2, 1..<3, 2..<3])
        // Stride past the kernel leaves cells no window reads.
        XCTAssertEqual(PoolAxis(axis(5, k: 1, s: 2), countPadding: false).covering, [0..<1, 1..<1, 1..<2, 2..<2, 2..<3])
    }
}
