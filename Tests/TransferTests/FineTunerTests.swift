import Engine
import Foundation
@testable import Transfer
import WeightIO
import XCTest
import Zoo

/// Fine-tuning through the Swift API on the torchvision ResNet-18 and VGG16-BN twins and their
/// weight files: the new head, freezing (frozen BatchNorm statistics bit-identical), two
/// learning rates, the trunk-feature cache and the file written.
final class FineTunerTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-finetuner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    /// A twin with `classes` outputs (logits) and its pre-trained file loaded around a new head.
    func twin(_ name: String, divisor: Int, hidden: Int? = nil, classes: Int = 3,
              size: Int = 32, weights: URL? = nil) throws -> (Model, LoadReport) {
        var o = ModelOptions(inputSize: (size, size))
        o.channelDivisor = divisor
        o.hiddenUnits = hidden
        RandomGenerator.global.reseed(5)
        let (model, report) = try NewHeadModel.build(architecture: name, weights: weights ?? fixtureURL("zoo/\(name)/weights.h5"),
                                                     classes: classes, options: o)
        return (model, try XCTUnwrap(report))
    }

    /// 30 seeded images of 3 classes whose mean brightness depends on the class (learnable).
    func dataset(size: Int = 32) throws -> TensorDataset {
        let n = 30, generator = RandomGenerator(seed: 11)
        var x = Tensor(uninitialized: [n, size, size, 3])
        let p = x.mutableData()
        let labels = (0..<n).map { $0 % 3 }
        for i in 0..<n {
            for j in 0..<(size * size * 3) { p[i * size * size * 3 + j] = generator.nextFloat() + Float(labels[i]) * 0.5 }
        }
        return try TensorDataset(inputs: x, labels: labels, classNames: ["ant", "bee", "cat"])
    }

    /// Runs a quiet fine-tune of `model` on `dataset()`, writing `<dir>/t.h5` and `<dir>/ckpt`.
    func tune(_ model: Model, _ plan: FreezePlan, in dir: String = "run",
              _ configure: (inout FineTuneSettings) -> Void) throws -> (FineTuneResult, URL) {
        var settings = FineTuneSettings()
        configure(&settings)
        let tuner = FineTuner(model: model, plan: plan, settings: settings)
        tuner.log = { _ in }
        let out = work.appendingPathComponent(dir).appendingPathComponent("t.h5")
        return (try tuner.run(on: try dataset(), output: out, checkpoints: work.appendingPathComponent(dir + "/ckpt")), out)
    }

    func values(_ layers: [Layer]) -> [[Float]] { layers.flatMap { $0.weights.map { Array($0.value.scalars) } } }

    func testDefaultTrainsOnlyTheNewHeadAndFrozenBatchNormStaysBitIdentical() throws {
        let (model, report) = try twin("resnet18", divisor: 16)
        XCTAssertEqual(report.fresh, ["predictions"])
        let plan = try FreezePlan(model: model, newLayers: Set(report.fresh))
        XCTAssertEqual(plan.trainable.map(\.name), ["predictions"])
        let trunk = plan.frozen
        XCTAssertTrue(trunk.contains { $0 is BatchNorm })
        let before = values(trunk), headBefore = values(plan.trainable)
        let (result, out) = try tune(model, plan) {
            $0.epochs = 2
            $0.batchSize = 8
            $0.augmentations = [.flip]  // no cache: the whole network runs in training mode every step
        }
        XCTAssertNil(result.featureSeconds)
        XCTAssertEqual(result.history.count, 2)
        XCTAssertEqual(values(trunk), before, "frozen weights and BatchNorm statistics are bit-identical")
        XCTAssertNotEqual(values(plan.trainable), headBefore)

        // The file holds the best epoch with the dataset's class names and the model's preprocessing.
        let file = try WeightFile.open(out)
        XCTAssertEqual(file.metadata.classNames, ["ant", "bee", "cat"])
        XCTAssertEqual(file.metadata.preprocessing, "torch")
        XCTAssertEqual(file.metadata.architecture, "resnet18")
        let (reloaded, _) = try twin("resnet18", divisor: 16)
        try reloaded.loadWeights(from: out)
        XCTAssertEqual(reloaded.classNames, ["ant", "bee", "cat"])
        XCTAssertEqual(values(reloaded.network.allLayers.filter { $0 is BatchNorm }),
                       values(model.network.allLayers.filter { $0 is BatchNorm }))
    }

    func testAFreshRunClearsAnEarlierRunsCheckpointsSoResumeCannotPickThemUp() throws {
        let (model, report) = try twin("resnet18", divisor: 16)
        let plan = try FreezePlan(model: model, newLayers: Set(report.fresh))
        _ = try tune(model, plan) { $0.epochs = 3 }
        let directory = work.appendingPathComponent("run/ckpt")
        XCTAssertEqual(Checkpointer.checkpoints(in: directory).map(\.epoch), [3])
        _ = try tune(model, plan) { $0.epochs = 1 }
        XCTAssertEqual(Checkpointer.checkpoints(in: directory).map(\.epoch), [1])
    }

    func testAWeightsH5OutputIsWrittenInKeras3sLayout() throws {
        let (model, report) = try twin("resnet18", divisor: 16)
        let plan = try FreezePlan(model: model, newLayers: Set(report.fresh))
        var settings = FineTuneSettings()
        settings.epochs = 1
        let tuner = FineTuner(model: model, plan: plan, settings: settings)
        tuner.log = { _ in }
        let out = work.appendingPathComponent("tuned.weights.h5")
        _ = try tuner.run(on: try dataset(), output: out, checkpoints: work.appendingPathComponent("ckpt"))
        let file = try WeightFile.open(out)
        XCTAssertEqual(file.format, .keras3)
        XCTAssertEqual(file.metadata.classNames, ["ant", "bee", "cat"])
    }

    func testTrainableFromOpensLaterBlocksAtTheTrunkRateAndKeepsEarlierStatistics() throws {
        let (model, report) = try twin("resnet18", divisor: 16)
        let plan = try FreezePlan(model: model, newLayers: Set(report.fresh), trainableFrom: "conv5_block1")
        XCTAssertEqual(plan.head.count, 2, "predictions kernel and bias")
        XCTAssertTrue(plan.trainable.contains { $0.name == "conv5_block2_2_bn" })
        XCTAssertFalse(plan.trainable.contains { $0.name.hasPrefix("conv4") })
        let earlier = plan.frozen, before = values(earlier)
        let opened = plan.trainable.filter { $0 is BatchNorm }, openedBefore = values(opened)
        let (result, _) = try tune(model, plan) {
            $0.epochs = 1
            $0.batchSize = 10
        }
        XCTAssertNotNil(result.featureSeconds, "conv1..conv4 are frozen: their features are cached")
        XCTAssertEqual(values(earlier), before)
        XCTAssertNotEqual(values(opened), openedBefore, "open BatchNorm layers train and update their statistics")
    }

    func testTheHeadTrainsAtTheLearningRateAndOpenedTrunkLayersAtATenthOfIt() throws {
        let (model, report) = try twin("resnet18", divisor: 16)
        let plan = try FreezePlan(model: model, newLayers: NewHeadModel.newLayers(report), trainableFrom: "conv5_block2")
        var settings = FineTuneSettings()
        settings.learningRate = 0.02
        let groups = FineTuner(model: model, plan: plan, settings: settings).parameterGroups
        XCTAssertEqual(groups.map(\.learningRate), [0.02, 0.002])
        XCTAssertEqual(groups[0].parameters.count, 2)
        XCTAssertEqual(groups[1].parameters.count, plan.trunk.count)
        XCTAssertTrue(plan.trunk.allSatisfy { p in plan.trainable.filter { $0.name.hasPrefix("conv5_block2") }
            .contains { $0.parameters.contains { $0 === p } } })
        settings.trunkLearningRate = 1e-5
        XCTAssertEqual(FineTuner(model: model, plan: plan, settings: settings).parameterGroups.map(\.learningRate), [0.02, 1e-5])
    }

    func testEarlyStoppingEndsTheRunAndTheFileHoldsTheBestEpochNotTheLast() throws {
        let (model, report) = try twin("resnet18", divisor: 16)
        let plan = try FreezePlan(model: model, newLayers: NewHeadModel.newLayers(report))
        let (result, out) = try tune(model, plan) {
            $0.epochs = 30
            $0.batchSize = 4
            $0.learningRate = 3  // far too high: the validation loss soon stops improving
            $0.optimizer = .sgd
            $0.earlyStopPatience = 2
        }
        XCTAssertNotNil(result.stopReason)
        XCTAssertLessThan(result.history.count, 30)
        XCTAssertEqual(result.history.count, result.bestEpoch + 2, "stopped two epochs after the best")
        let losses = result.history.map { $0.validation!.loss }
        XCTAssertEqual(result.best, losses.min()!)
        XCTAssertEqual(losses[result.bestEpoch - 1], losses.min()!)
        // The file holds the best epoch's head, which early stopping also put back into the model.
        let (reloaded, _) = try twin("resnet18", divisor: 16)
        try reloaded.loadWeights(from: out)
        XCTAssertEqual(values([try XCTUnwrap(reloaded.network.layer(named: "predictions"))]), values(plan.trainable))
    }

    func testFreezeUntilACompositeFreezesEverythingInsideIt() throws {
        let (model, report) = try twin("resnet18", divisor: 16)
        let plan = try FreezePlan(model: model, newLayers: Set(report.fresh), freezeUntil: "conv5_block1")
        XCTAssertTrue(plan.frozen.contains { $0.name == "conv5_block1_2_bn" })
        XCTAssertEqual(plan.trainable.first?.name, "conv5_block2_1_conv")
        XCTAssertThrowsError(try FreezePlan(model: model, newLayers: [], trainableFrom: "nope")) {
            XCTAssertTrue("\($0)".contains("resnet18 has no layer 'nope'"), "\($0)")
        }
        XCTAssertThrowsError(try FreezePlan(model: model, newLayers: [], trainableFrom: "conv1_conv", freezeUntil: "conv1_conv"))
    }

    func testAFileWithoutTheTopLoadsByNameAndItsMissingLayersTrainAsNew() throws {
        // Keras's include_top=False file of the VGG16 twin: the convolutions only.
        var o = ModelOptions(includeTop: false, inputSize: (64, 64))
        o.channelDivisor = 32
        let notop = try Catalog.architecture(named: "vgg16").make(o)
        try notop.loadWeights(from: fixtureURL("zoo/vgg16/weights.h5"), options: LoadOptions(mode: .byName))
        let file = work.appendingPathComponent("vgg16_notop.h5")
        try notop.saveWeights(to: file)

        let (model, report) = try twin("vgg16", divisor: 32, hidden: 32, size: 64, weights: file)
        XCTAssertEqual(report.matching, .name)
        XCTAssertEqual(report.fresh, ["predictions"])
        XCTAssertEqual(report.inModelNotInFile, ["fc1", "fc2"])
        XCTAssertEqual(report.loaded.count, 13)
        let plan = try FreezePlan(model: model, newLayers: NewHeadModel.newLayers(report))
        XCTAssertEqual(plan.trainable.map(\.name), ["fc1", "fc2", "predictions"])
        XCTAssertEqual(values([try XCTUnwrap(model.network.layer(named: "block5_conv3"))]),
                       values([try XCTUnwrap(notop.network.layer(named: "block5_conv3"))]))
    }

    func testCachedTrunkFeaturesGiveTheSameRunAsTheWholeNetwork() throws {
        func run(cache: Bool) throws -> (FineTuneResult, [[Float]]) {
            let (model, report) = try twin("resnet18", divisor: 16)
            let plan = try FreezePlan(model: model, newLayers: Set(report.fresh))
            let (result, _) = try tune(model, plan, in: cache ? "cached" : "whole") {
                $0.epochs = 3
                $0.batchSize = 8
                $0.cacheFeatures = cache
            }
            return (result, values(plan.trainable))
        }
        let (cached, cachedHead) = try run(cache: true)
        let (whole, wholeHead) = try run(cache: false)
        XCTAssertNotNil(cached.featureSeconds)
        XCTAssertNil(whole.featureSeconds)
        for (a, b) in zip(cached.history, whole.history) {
            XCTAssertEqual(a.training.loss, b.training.loss, accuracy: 1e-5 * max(1, abs(b.training.loss)))
            XCTAssertEqual(a.validation!.loss, b.validation!.loss, accuracy: 1e-5 * max(1, abs(b.validation!.loss)))
        }
        for (a, b) in zip(cachedHead.joined(), wholeHead.joined()) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    func testWithAugmentationTheFrozenTrunkRunsInInferenceModeAndGivesTheWholeNetworksRun() throws {
        func run(cache: Bool) throws -> (FineTuneResult, [[Float]]) {
            let (model, report) = try twin("resnet18", divisor: 16)
            let plan = try FreezePlan(model: model, newLayers: Set(report.fresh), trainableFrom: "conv5_block2")
            let (result, _) = try tune(model, plan, in: cache ? "split" : "whole") {
                $0.epochs = 2
                $0.batchSize = 8
                $0.augmentations = [.flip, .crop]
                $0.cacheFeatures = cache
            }
            return (result, values(plan.trainable))
        }
        let (split, splitWeights) = try run(cache: true)
        let (whole, wholeWeights) = try run(cache: false)
        XCTAssertNil(split.featureSeconds, "augmented inputs cannot be cached")
        for (a, b) in zip(split.history, whole.history) {
            XCTAssertEqual(a.training.loss, b.training.loss, accuracy: 1e-5 * max(1, abs(b.training.loss)))
        }
        for (a, b) in zip(splitWeights.joined(), wholeWeights.joined()) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    func testTheCutOpensNestedSequentialsAndStopsBelowTheFirstDropout() throws {
        let (resnet, resnetReport) = try twin("resnet18", divisor: 16)
        try FreezePlan(model: resnet, newLayers: Set(resnetReport.fresh)).apply()
        let resnetCut = try XCTUnwrap(TrunkSplit(resnet.network))
        XCTAssertEqual(resnetCut.head.layers.map(\.name), ["predictions"])

        // torchvision's VGG classifier has Dropout, which behaves differently in training: the
        // head starts at the first one, so caching changes nothing.
        let (vgg, vggReport) = try twin("vgg16-bn", divisor: 32, hidden: 32, size: 64)
        try FreezePlan(model: vgg, newLayers: Set(vggReport.fresh)).apply()
        let vggCut = try XCTUnwrap(TrunkSplit(vgg.network))
        XCTAssertEqual(vggCut.head.layers.map(\.name), ["fc1_dropout", "fc2", "fc2_dropout", "predictions"])

        vgg.network.setTrainable(true)
        XCTAssertNil(TrunkSplit(vgg.network), "nothing frozen at the bottom: no cut")
    }
}
