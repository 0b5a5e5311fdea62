import Engine
@testable import Transfer
import XCTest

/// Kernels and feature maps as tile grids: layout, sizes and each tile's own scaling.
final class TileGridTests: XCTestCase {
    /// The RGB pixel at (x, y).
    func pixel(_ image: PixelImage, _ x: Int, _ y: Int) -> [UInt8] { (0..<3).map { image[y, x, $0] } }

    func testAThreeChannelConvolutionGivesOneColourTilePerFilter() throws {
        let conv = Conv2D(name: "conv1", inputChannels: 3, filters: 2, kernelSize: (2, 2))
        var k = Tensor(zeros: [2, 2, 3, 2])
        k[0, 0, 0, 0] = 5    // filter 0: red at the top left is its maximum...
        k[1, 1, 2, 0] = -5   // ...blue at the bottom right its minimum
        k[0, 1, 1, 1] = 0.5  // filter 1: only green at the top right
        conv.kernel.value = k
        let grid = TileGrid.filters(of: conv)
        XCTAssertEqual([grid.shown, grid.total], [2, 2])
        // 2x2 kernels drawn 12 pixels a value: 24-pixel tiles, two side by side, one-pixel gaps.
        XCTAssertEqual([grid.image.width, grid.image.height], [2 * 25 + 1, 25 + 1])
        XCTAssertEqual(pixel(grid.image, 1, 1), [255, 128, 128], "filter 0 top left: red at the maximum, zero mid-gray")
        XCTAssertEqual(pixel(grid.image, 24, 24), [128, 128, 0], "filter 0 bottom right: blue at the minimum")
        XCTAssertEqual(pixel(grid.image, 26 + 23, 1), [0, 255, 0], "filter 1 scaled on its own range")
        XCTAssertEqual(pixel(grid.image, 0, 0), [128, 128, 128], "gap")
    }

    func testOtherConvolutionsGiveAGrayTilePerFilterAndChannel() throws {
        let conv = Conv2D(name: "c3", inputChannels: 2, filters: 3, kernelSize: (3, 3))
        let grid = TileGrid.filters(of: conv)
        XCTAssertEqual([grid.shown, grid.total], [6, 6])
        // rows: filters, columns: input channels; 3x3 kernels drawn 8 pixels a value.
        XCTAssertEqual([grid.image.width, grid.image.height], [2 * 25 + 1, 3 * 25 + 1])
        for x in stride(from: 1, to: 50, by: 7) {
            let p = pixel(grid.image, x, 30)
            XCTAssertTrue(p[0] == p[1] && p[1] == p[2], "gray: \(p)")
        }
    }

    func testFeatureMapsGiveAGrayTilePerChannelScaledOnItsOwn() throws {
        var a = Tensor(zeros: [1, 4, 4, 5])
        for c in 0..<5 { a[0, c % 4, 0, c] = Float(c + 1); a[0, 3, 3, c] = -Float(c + 1) * 10 }
        let grid = try TileGrid.activations(a)
        XCTAssertEqual([grid.shown, grid.total], [5, 5])
        XCTAssertEqual([grid.image.width, grid.image.height], [3 * 33 + 1, 2 * 33 + 1], "3 columns of 32-pixel tiles, 2 rows")
        for c in 0..<5 {
            let left = 1 + (c % 3) * 33, top = 1 + (c / 3) * 33
            XCTAssertEqual(pixel(grid.image, left, top + (c % 4) * 8), [255, 255, 255], "channel \(c) maximum")
            XCTAssertEqual(pixel(grid.image, left + 31, top + 31), [0, 0, 0], "channel \(c) minimum")
        }
        XCTAssertThrowsError(try TileGrid.activations(Tensor(zeros: [1, 10]))) {
            XCTAssertTrue("\($0)".contains("choose a convolutional layer"), "\($0)")
        }
    }
}
