import Engine
import Zoo
import Foundation
@testable import Transfer
import XCTest

/// Keras `imagenet_utils.preprocess_input` modes and torchvision's ToTensor + Normalize.
final class PreprocessingTests: XCTestCase {
    func testModesMatchKerasPreprocessInput() throws {
        let x = try referencePixels("preprocess_input")
        XCTAssertEqual(x.shape, [1, 20, 28, 3])
        for mode in [Preprocessing.caffe, .torch, .tf] {
            let y = try mode.apply(x)
            let reference = try referencePixels("preprocess_\(mode.rawValue)")
            // The same float32 operations in the same order: bit-identical.
            XCTAssertEqual(maxDifference(y, reference), 0, mode.rawValue)
        }
        XCTAssertEqual(try Preprocessing.none.apply(x), x)
    }

    func testTorchModeMatchesTorchvisionNormalizeAfterItsTransform() throws {
        let image = try ImageDecoder.decode(contentsOf: imageFixture("photo.jpg"))
        let cropped = ResizeTransform.resizeThenCenterCrop(resize: 31, crop: 28).apply(image, height: 28, width: 28)
        let y = Preprocessing.torch.apply(cropped)
        XCTAssertLessThanOrEqual(maxDifference(y, try referencePixels("torch_photo_resize31_crop28_normalized")), 1e-6)
    }

    func testPreprocessingNeverMutatesTheInput() throws {
        let x = try referencePixels("preprocess_input")
        let copy = Tensor(shape: x.shape, scalars: x.scalars)
        for mode in Preprocessing.allCases {
            let y = try mode.apply(x)
            XCTAssertEqual(x, copy, "\(mode) changed its input")
            if mode != .none { XCTAssertNotEqual(y, x) }
        }
        // A tensor sharing the input's storage stays untouched too (no in-place shortcut).
        let shared = x
        _ = try Preprocessing.caffe.apply(shared)
        XCTAssertEqual(shared, copy)
    }

    func testCaffeSwapsToBGRBeforeSubtracting() throws {
        let x = Tensor(shape: [1, 1, 1, 3], scalars: [200, 100, 50])
        let y = try Preprocessing.caffe.apply(x)
        XCTAssertEqual(y.scalars, [50 - Float(103.939), 100 - Float(116.779), 200 - Float(123.68)])
    }

    func testOneChannelModesUseLumaWeightedConstants() throws {
        let x = Tensor(shape: [1, 1, 2, 1], scalars: [0, 255])
        let caffeMean = Float(0.299 * 123.68 + 0.587 * 116.779 + 0.114 * 103.939)
        XCTAssertEqual(try Preprocessing.caffe.apply(x).scalars, [0 - caffeMean, 255 - caffeMean])
        let mean = Float(0.299 * Double(Float(0.485)) + 0.587 * Double(Float(0.456)) + 0.114 * Double(Float(0.406)))
        let std = Float(0.299 * Double(Float(0.229)) + 0.587 * Double(Float(0.224)) + 0.114 * Double(Float(0.225)))
        XCTAssertEqual(try Preprocessing.torch.apply(x).scalars, [(0 - mean) / std, (1 - mean) / std])
        XCTAssertEqual(try Preprocessing.tf.apply(x).scalars, [-1, 1])
    }

    func testPixelImagePathEqualsTensorPath() throws {
        let image = try ImageDecoder.decode(contentsOf: imageFixture("rgb.png"))
        for mode in Preprocessing.allCases {
            XCTAssertEqual(mode.apply(image), try mode.apply(tensor(image)), mode.rawValue)
        }
    }

    func testWrongChannelCountIsAClearError() {
        XCTAssertThrowsError(try Preprocessing.torch.apply(Tensor(zeros: [1, 2, 2, 0]))) { error in
            XCTAssertTrue("\(error)".contains("[1, 2, 2, 0]"), "\(error)")
        }
    }

    /// N channels (arrays for `--input-channels N`): channel c is normalized as RGB channel c mod 3,
    /// the one whose kernel timm's adapt_input_conv repeats into it; caffe does not reorder.
    func testOtherChannelCountsUseTheConstantsOfChannelModThree() throws {
        let x = Tensor(shape: [1, 1, 1, 5], scalars: [255, 255, 255, 255, 255])
        let torch = try Preprocessing.torch.apply(x).scalars
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        XCTAssertEqual(torch, (0..<5).map { (1 - mean[$0 % 3]) / std[$0 % 3] })
        let caffe = try Preprocessing.caffe.apply(x).scalars
        let bgrMean: [Float] = [103.939, 116.779, 123.68]
        XCTAssertEqual(caffe, (0..<5).map { 255 - bgrMean[$0 % 3] })
        XCTAssertEqual(try Preprocessing.tf.apply(x).scalars, [1, 1, 1, 1, 1])
    }
}
