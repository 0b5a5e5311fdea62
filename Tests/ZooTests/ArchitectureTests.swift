import XCTest
@testable import Engine
@testable import Zoo

/// Parameter counts, block shapes and options of the full-size architectures (shape inference
/// only; no data moves).
final class ArchitectureTests: XCTestCase {
    /// torchvision counts learnable parameters (our Trainable); Keras counts every weight,
    /// BatchNorm statistics included (our Total). The figures are the references' own.
    func testParameterCountsMatchTheReferences() throws {
        let torchvision: [String: Int] = [
            "alexnet": 61_100_840, "vgg16-bn": 138_365_992, "vgg19-bn": 143_678_248, "googlenet": 6_624_904,
            "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160,
            "resnet152": 60_192_808,
        ]
        let keras: [String: Int] = [
            "vgg16": 138_357_544, "vgg19": 143_667_240, "resnet50-keras": 25_636_712,
            "resnet101-keras": 44_707_176, "resnet152-keras": 60_419_944, "alexnet-caffe": 60_965_224,
        ]
        // The catalog states them (`zoo list` prints them without building); the next test checks
        // every built network against the catalog.
        for (name, count) in torchvision.merging(keras, uniquingKeysWith: { a, _ in a }) {
            XCTAssertEqual(try Catalog.architecture(named: name).referenceParameters, count, name)
        }
        XCTAssertEqual(try Catalog.architecture(named: "lenet5").referenceParameters, 61_706)
        XCTAssertEqual(try Catalog.architecture(named: "lenet5-paper").referenceParameters, 60_000)
    }

    /// Each description states what the built network is: its reference count (by its
    /// reference's convention), input, classes, head output, Grad-CAM layer and other flavour.
    func testDescriptionsAgreeWithTheNetworksTheyBuild() throws {
        for a in Catalog.all {
            let m = try a.make()
            XCTAssertEqual(a.flavour.countsEveryWeight ? m.totalParameters : m.trainableParameters, a.referenceParameters, a.name)
            XCTAssertEqual(m.inputShape, a.defaultInput, a.name)
            XCTAssertEqual(try m.outputShape(), [1, a.defaultClasses], a.name)
            XCTAssertEqual(m.headOutput, a.headOutput, a.name)
            XCTAssertNotNil(m.network.layer(named: a.tapAliases[a.gradCAMLayer] ?? a.gradCAMLayer), a.name)
            XCTAssertEqual(try shape(m, after: a.gradCAMLayer).count, 4, "\(a.name): \(a.gradCAMLayer) is a feature map")
            if let other = a.otherFlavour {
                XCTAssertEqual(try Catalog.architecture(named: other).otherFlavour, a.name)
                XCTAssertNotEqual(try Catalog.architecture(named: other).flavour, a.flavour)
            }
            for tap in a.taps { XCTAssertTrue(m.taps.contains(tap), "\(a.name): documented tap \(tap)") }
        }
        XCTAssertEqual(try Catalog.architecture(named: "lenet5-paper").headOutput, .penalties)
        XCTAssertEqual(try Catalog.architecture(named: "vgg19").gradCAMLayer, "block5_conv4")
        XCTAssertEqual(try Catalog.architecture(named: "resnet101").gradCAMLayer, "conv5_block3_out")
    }

    func testHeadOutputFollowsTheClassifierActivation() throws {
        XCTAssertEqual(try Catalog.architecture(named: "resnet18").make(ModelOptions(classifierActivation: .softmax)).headOutput,
                       .probabilities)
        XCTAssertEqual(try Catalog.architecture(named: "lenet5").make(ModelOptions(classifierActivation: .linear)).headOutput, .logits)
        XCTAssertEqual(try Catalog.architecture(named: "lenet5-paper").make(ModelOptions(classifierActivation: .linear)).headOutput,
                       .penalties)
        XCTAssertNil(try Catalog.architecture(named: "lenet5").make(ModelOptions(includeTop: false)).headOutput)
        let caffe = try Catalog.architecture(named: "alexnet-caffe").make(ModelOptions(classifierActivation: .softmax))
        XCTAssertEqual(caffe.headOutput, .probabilities)
        XCTAssertEqual(caffe.network.layers.last?.name, "prob")
    }

    func shape(_ model: Model, after layer: String) throws -> [Int] {
        var rows: [ModelSummary.Row] = []
        _ = try ModelSummary.walk(model.network, [1] + model.inputShape, into: &rows)
        return try XCTUnwrap(rows.first { $0.name == layer }, "no layer \(layer)").outputShape
    }

    func testResNetStageShapes() throws {
        for name in ["resnet50", "resnet50-keras"] {
            let m = try Catalog.architecture(named: name).make()
            XCTAssertEqual(try shape(m, after: "pool1_pool"), [1, 56, 56, 64], name)
            XCTAssertEqual(try shape(m, after: "conv2_block3_add"), [1, 56, 56, 256], name)
            XCTAssertEqual(try shape(m, after: "conv3_block4_add"), [1, 28, 28, 512], name)
            XCTAssertEqual(try shape(m, after: "conv4_block6_add"), [1, 14, 14, 1024], name)
            XCTAssertEqual(try shape(m, after: "conv5_block3_add"), [1, 7, 7, 2048], name)
            XCTAssertEqual(try m.outputShape(), [1, 1000], name)
        }
        let r18 = try Catalog.architecture(named: "resnet18").make()
        XCTAssertEqual(try shape(r18, after: "conv5_block2_add"), [1, 7, 7, 512])
    }

    func testGoogLeNetInceptionShapes() throws {
        let expected: [(String, [Int])] = [
            ("inception3a", [28, 28, 256]), ("inception3b", [28, 28, 480]), ("inception4a", [14, 14, 512]),
            ("inception4b", [14, 14, 512]), ("inception4c", [14, 14, 512]), ("inception4d", [14, 14, 528]),
            ("inception4e", [14, 14, 832]), ("inception5a", [7, 7, 832]), ("inception5b", [7, 7, 1024]),
        ]
        let tv = try Catalog.architecture(named: "googlenet").make()
        let caffe = try Catalog.architecture(named: "googlenet-caffe").make()
        for (block, s) in expected {
            XCTAssertEqual(try shape(tv, after: block), [1] + s, block)
            XCTAssertEqual(try shape(caffe, after: block.replacingOccurrences(of: "inception", with: "inception_")), [1] + s)
        }
    }

    func testVGGAndAlexNetShapes() throws {
        let vgg = try Catalog.architecture(named: "vgg19").make()
        for (b, size) in [112, 56, 28, 14, 7].enumerated() {
            XCTAssertEqual(try shape(vgg, after: "block\(b + 1)_pool").dropFirst(), [size, size, [64, 128, 256, 512, 512][b]])
        }
        let alex = try Catalog.architecture(named: "alexnet").make()
        XCTAssertEqual(try shape(alex, after: "conv1"), [1, 55, 55, 64])
        XCTAssertEqual(try shape(alex, after: "pool5"), [1, 6, 6, 256])
        let caffe = try Catalog.architecture(named: "alexnet-caffe").make()
        XCTAssertEqual(try shape(caffe, after: "conv1"), [1, 55, 55, 96])
        XCTAssertEqual(try shape(caffe, after: "pool2"), [1, 13, 13, 256])
        XCTAssertEqual(try shape(caffe, after: "pool5"), [1, 6, 6, 256])
    }

    func testKerasResNetWeightOrderListsProjectionBlocksAsKerasDoes() throws {
        let m = try Catalog.architecture(named: "resnet50-keras").make()
        let names = m.weightedLayers.map(\.name)
        let start = try XCTUnwrap(names.firstIndex(of: "conv2_block1_1_conv"))
        XCTAssertEqual(Array(names[start..<(start + 8)]), [
            "conv2_block1_1_conv", "conv2_block1_1_bn", "conv2_block1_2_conv", "conv2_block1_2_bn",
            "conv2_block1_0_conv", "conv2_block1_3_conv", "conv2_block1_0_bn", "conv2_block1_3_bn",
        ])
        XCTAssertEqual(names.first, "conv1_conv")
        XCTAssertEqual(names.last, "predictions")
        XCTAssertEqual(Set(names).count, names.count)
    }

    func testOptionsNoTopPoolingClassesAndActivation() throws {
        var o = ModelOptions(includeTop: false, pooling: .average)
        let pooled = try Catalog.architecture(named: "resnet50").make(o)
        XCTAssertEqual(try pooled.outputShape(batch: 2), [2, 2048])
        o.pooling = nil
        o.inputSize = (160, 192)
        XCTAssertEqual(try Catalog.architecture(named: "resnet50").make(o).outputShape(), [1, 5, 6, 2048])
        let ten = try Catalog.architecture(named: "vgg16").make(ModelOptions(classes: 10))
        XCTAssertEqual(try ten.outputShape(), [1, 10])
        XCTAssertEqual((ten.network.layer(named: "predictions") as? Dense)?.activation, .softmax, "Keras flavour: softmax")
        let tv = try Catalog.architecture(named: "resnet18").make()
        XCTAssertEqual((tv.network.layer(named: "predictions") as? Dense)?.activation, .linear, "torchvision: logits")
        let forced = try Catalog.architecture(named: "resnet18").make(ModelOptions(classifierActivation: .softmax))
        XCTAssertEqual((forced.network.layer(named: "predictions") as? Dense)?.activation, .softmax)
    }

    func testTooSmallInputNamesTheSmallestThatWorks() {
        XCTAssertThrowsError(try Catalog.architecture(named: "vgg16").make(ModelOptions(includeTop: false, inputSize: (16, 16)))) {
            XCTAssertTrue("\($0)".contains("smallest input this network supports is 32x32"), "\($0)")
        }
    }

    func testUnknownArchitectureListsTheKnownOnes() {
        XCTAssertThrowsError(try Catalog.architecture(named: "resnet51")) {
            XCTAssertTrue("\($0)".contains("resnet50-keras"), "\($0)")
        }
    }

    func testSummaryUsesKerasWordingAndGrouping() throws {
        let text = try ModelSummary(Catalog.architecture(named: "vgg16").make()).render(title: "vgg16")
        XCTAssertTrue(text.contains("Total params: 138,357,544"), text)
        XCTAssertTrue(text.contains("Trainable params: 138,357,544"))
        XCTAssertTrue(text.contains("Non-trainable params: 0"))
        XCTAssertTrue(text.contains("block1_conv1 (Conv2D)"))
        // VGG16's 15.47 G multiply-accumulates, the figure papers quote.
        XCTAssertTrue(text.contains("Multiply-accumulates: 15,470,264,320"), text)
        let bn = try ModelSummary(Catalog.architecture(named: "resnet50").make())
        XCTAssertEqual(bn.trainableParameters, 25_557_032)
        XCTAssertEqual(bn.nonTrainableParameters, 53_120, "BatchNorm running statistics")
    }
}
