import Engine
import Foundation
@testable import Transfer
import XCTest
import Zoo

/// Keras `load_img(target_size=...)` and torchvision's Resize + CenterCrop against their fixtures.
final class ResizeTests: XCTestCase {
    func testKerasDirectResizeNearestAndBilinear() throws {
        // photo 12x60 and rgba 17x50 take Pillow 13's vertical-first order.
        let cases: [(String, Int, Int)] = [("photo", 20, 28), ("photo", 72, 90), ("photo", 31, 45), ("photo", 12, 60),
                                           ("progressive", 24, 24), ("rgba", 17, 50)]
        for (stem, h, w) in cases {
            let file = stem == "rgba" ? "rgba.png" : stem + ".jpg"
            let image = try ImageDecoder.decode(contentsOf: imageFixture(file), channels: 3)
            for (transform, interp) in [(ResizeTransform.direct(.nearest), "nearest"), (.direct(.bilinear), "bilinear")] {
                let resized = transform.apply(image, height: h, width: w)
                let reference = try referencePixels("keras_\(stem)_\(h)x\(w)_\(interp)")
                // Same integer arithmetic as Pillow on bit-identical decoded pixels: exact.
                XCTAssertEqual(maxDifference(tensor(resized), reference), 0, "\(stem) \(h)x\(w) \(interp)")
            }
        }
    }

    func testKerasGrayscaleLoadResizesTheGrayImage() throws {
        let gray = try ImageDecoder.decode(contentsOf: imageFixture("photo.jpg"), channels: 1)
        for interp in [Interpolation.nearest, .bilinear] {
            let resized = ResizeTransform.direct(interp).apply(gray, height: 20, width: 28)
            try assertMatches(resized, "keras_photo_gray_20x28_\(interp.rawValue)", tolerance: 0)
        }
    }

    func testTorchvisionResizeThenCenterCropIsParameterized() throws {
        let cases: [(String, Int, Int)] = [("photo.jpg", 32, 28), ("photo.jpg", 31, 28), ("progressive.jpg", 29, 24),
                                           ("rgb.png", 36, 33)]
        for (file, resize, crop) in cases {
            let image = try ImageDecoder.decode(contentsOf: imageFixture(file), channels: 3)
            let transform = ResizeTransform.resizeThenCenterCrop(resize: resize, crop: crop)
            let out = transform.apply(image, height: crop, width: crop)
            let stem = file.split(separator: ".")[0]
            XCTAssertEqual(maxDifference(tensor(out), try referencePixels("torch_\(stem)_resize\(resize)_crop\(crop)")), 0,
                           "\(file) \(transform)")
        }
    }

    func testShorterSideSizeAndCropOffsetsFollowTorchvision() {
        // int(256 * 500 / 375) = 341; a portrait image keeps its orientation.
        XCTAssertTrue(ResizeTransform.shorterSideSize(height: 375, width: 500, to: 256) == (256, 341))
        XCTAssertTrue(ResizeTransform.shorterSideSize(height: 500, width: 375, to: 256) == (341, 256))
        // Offsets use round half to even: (31 - 28) / 2 = 1.5 -> 2, (41 - 28) / 2 = 6.5 -> 6.
        let image = PixelImage(height: 31, width: 41, channels: 1, pixels: (0..<(31 * 41)).map { UInt8($0 % 251) })
        let crop = ResizeTransform.centerCrop(image, size: 28)
        XCTAssertEqual(crop[0, 0, 0], image[2, 6, 0])
        // A crop larger than the image pads with zeros, the image landing at the floor half.
        let small = PixelImage(height: 2, width: 3, channels: 1, pixels: [1, 2, 3, 4, 5, 6])
        let padded = ResizeTransform.centerCrop(small, size: 5)
        XCTAssertEqual(padded.pixels, [0, 0, 0, 0, 0,
                                       0, 1, 2, 3, 0,
                                       0, 4, 5, 6, 0,
                                       0, 0, 0, 0, 0,
                                       0, 0, 0, 0, 0])
    }

    func testTransformNamesRoundTrip() {
        let names = ["keras-direct", "keras-direct-bilinear", "resize256-crop224", "resize232-crop224"]
        for name in names { XCTAssertEqual(ResizeTransform(name)?.description, name) }
        XCTAssertEqual(ResizeTransform("resize256-crop224"), .resize256Crop224)
        XCTAssertEqual(ResizeTransform("resize232-crop224"), .resize232Crop224)
        XCTAssertEqual(ResizeTransform("keras-direct"), .direct(.nearest))
        for bad in ["", "keras", "resize-crop224", "resize256-crop", "resize0-crop224", "crop224-resize256"] {
            XCTAssertNil(ResizeTransform(bad), bad)
        }
        XCTAssertNil(ResizeTransform.resize256Crop224.incompatibility(height: 224, width: 224))
        XCTAssertNotNil(ResizeTransform.resize256Crop224.incompatibility(height: 32, width: 32))
        XCTAssertNil(ResizeTransform.direct(.nearest).incompatibility(height: 32, width: 40))
    }

    func testEveryZooArchitecturesTransformAndPreprocessingRoundTripThroughTheirNames() throws {
        // The strings the Zoo writes into weight files must all be understood when read back.
        var narrow = ModelOptions()
        narrow.channelDivisor = 16
        narrow.hiddenUnits = 8
        for architecture in Catalog.all {
            // LeNet-5's paper form has a fixed connection table and is small anyway.
            let model = try architecture.make(architecture.name.hasPrefix("lenet") ? ModelOptions() : narrow)
            XCTAssertEqual(model.metadata.resizeTransform.flatMap(ResizeTransform.init), model.resizeTransform, architecture.name)
            XCTAssertEqual(model.metadata.preprocessing.flatMap(Preprocessing.init(rawValue:)), model.preprocessing, architecture.name)
        }
    }

    func testSameSizeIsACopyAndUpscalingANearestPixelRepeats() {
        let image = PixelImage(height: 2, width: 2, channels: 1, pixels: [10, 20, 30, 40])
        XCTAssertEqual(image.resized(height: 2, width: 2, interpolation: .bilinear), image)
        XCTAssertEqual(image.resized(height: 4, width: 4, interpolation: .nearest).pixels,
                       [10, 10, 20, 20, 10, 10, 20, 20, 30, 30, 40, 40, 30, 30, 40, 40])
    }
}
