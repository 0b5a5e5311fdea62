import ArgumentParser
import Engine
import Foundation
import Transfer
import WeightIO
import Zoo

/// `zoo demo`: the whole path on the bundled digits, in about a minute on two cores.
///
/// Pre-trains LeNet-5 on the digits 0-4, saves and reloads it as HDF5, extracts its F6 features
/// for the digits 5-9, then learns 5-9 from a few examples per class: once by training a new head
/// on the frozen pre-trained trunk, once from scratch, and compares them.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Pre-train LeNet-5 on digits 0-4, save and reload it, transfer it to 5-9.")

    @Option(help: "Directory holding the bundled digits (images.npy, labels.npy).")
    var data = "datasets/digits"

    @Option(help: "The shipped LeNet-5 trained on all ten digits (`make lenet5-weights` reproduces it).")
    var shipped = "weights/lenet5-digits.h5"

    @Option(help: "Directory for the files the demo writes.")
    var out = ".build/demo"

    @Option(help: "Training examples per class for the transfer task.")
    var shots = 10

    @Option(help: "Seed of every random choice.")
    var seed: UInt64 = 7

    func validate() throws {
        // The smallest of the digits 5-9 has 174 images; some must be left to test on.
        try OptionCheck.inRange(shots, 1...100, "--shots")
    }

    func run() throws {
        let started = Stopwatch.now()
        let outURL = URL(fileURLWithPath: out)
        let dataURL = URL(fileURLWithPath: data)
        guard FileManager.default.fileExists(atPath: dataURL.appendingPathComponent("images.npy").path) else {
            throw CommandFailure("\(data)/images.npy not found: run `zoo demo` from the repository root, or give "
                + "--data the repository's datasets/digits folder")
        }
        try OptionCheck.writableFolder(outURL, option: "--out")
        do { try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true) } catch {
            throw CommandFailure("--out: cannot create \(out) (\(unreadableReason(outURL, error)))")
        }
        let digits = try Digits.loadLeNet(from: dataURL)
        print("digits: \(digits.count) images of 32x32 (8x8 upsampled and centred, as LeNet-5's field)")
        let (source, target) = try split(digits)
        try reportShipped()

        // 1. Pre-train on 0-4.
        let split = try Splits.stratified(labels: source.labels, validationFraction: 0.2,
                                          generator: RandomGenerator(seed: seed))
        let train = try source.subset(split.training), heldOut = try source.subset(split.validation)
        let pretrained = try lenet(classes: 5)
        let trainer = Trainer(model: pretrained.network, loss: SoftmaxCrossEntropy(),
                              optimizer: try Adam(pretrained.network.trainableParameters, learningRate: 2e-3),
                              configuration: TrainingConfiguration(batchSize: 32, seed: seed))
        try trainer.fit(train, epochs: 8)
        let accuracy = try trainer.evaluate(heldOut).top1
        print(String(format: "1. LeNet-5 pre-trained on digits 0-4 (%d images, 8 epochs): %.1f%% held-out accuracy (%d images)",
                     train.count, 100 * accuracy, heldOut.count))

        // 2. Save, reload, same predictions.
        let file = outURL.appendingPathComponent("lenet5-digits-0to4.h5")
        pretrained.classNames = (0..<5).map(String.init)
        try pretrained.saveWeights(to: file)
        let reloaded = try lenet(classes: 5)
        let report = try reloaded.loadWeights(from: file)
        let same = try pretrained.predict(heldOut.inputs) == reloaded.predict(heldOut.inputs)
        print("2. saved \(file.path) and reloaded it (\(report.loaded.count) layers): predictions "
            + (same ? "bit-identical" : "DIFFER"))
        guard same else { throw CommandFailure("the reloaded model predicts differently") }

        // 3. Features for 5-9.
        let features = try reloaded.output(at: "f6", for: target.inputs)
        let featureFile = outURL.appendingPathComponent("f6-features-5to9.npy")
        try DurableFile.write(NPY.encode(features), to: featureFile)
        print("3. F6 features of the \(target.count) digits 5-9: shape \(features.shape) -> \(featureFile.path)")

        // 4. Few-shot transfer to 5-9: a new head on the frozen trunk, against training from scratch.
        let (few, rest) = try fewShot(target)
        print(String(format: "4. digits 5-9 from %d examples per class, tested on the other %d:", shots, rest.count))
        let frozen = try transferred(from: file, trainableFrom: nil)
        let frozenAccuracy = try fit(frozen.model, few, rest, groups: [ParameterGroup(frozen.plan.head)], learningRate: 1e-2)
        print(String(format: "   new head on the frozen pre-trained trunk:        %5.1f%%", 100 * frozenAccuracy))
        let tuned = try transferred(from: file, trainableFrom: "c1")
        let tunedAccuracy = try fit(tuned.model, few, rest, groups: [ParameterGroup(tuned.plan.trunk),
                                                                     ParameterGroup(tuned.plan.head)],
                                    learningRate: 2e-3)
        print(String(format: "   fine-tuned: new head, every layer trains:        %5.1f%%", 100 * tunedAccuracy))
        let scratch = try lenet(classes: 5)
        let scratchAccuracy = try fit(scratch, few, rest, groups: [ParameterGroup(scratch.network.trainableParameters)],
                                      learningRate: 2e-3)
        print(String(format: "   LeNet-5 trained from scratch:                    %5.1f%%", 100 * scratchAccuracy))
        print(String(format: "done in %.1f s", Stopwatch.now() - started))
    }

    /// 0. The shipped weights: loaded from HDF5 and scored on the digits held out when they were trained.
    func reportShipped() throws {
        let url = URL(fileURLWithPath: shipped)
        guard FileManager.default.fileExists(atPath: url.path) else {
            print("0. \(shipped) not found (run from the repository root, or `make lenet5-weights`); skipping it")
            return
        }
        let model = try Catalog.architecture(named: "lenet5").make(ModelOptions(classes: 10))
        try model.loadWeights(from: url)
        let dataset = try TrainingDataSource.open(data, for: model)
        let heldOut = try Splits.stratified(labels: dataset.labels, validationFraction: 0.2,
                                            generator: RandomGenerator(seed: Self.shippedSeed)).validation
        var correct = 0
        for batch in try BatchStream(dataset, indices: heldOut, batchSize: 256) {
            let p = try model.predict(batch.inputs)
            let classes = p.shape[1]
            for (row, label) in batch.labels.enumerated() {
                let scores = UnsafeBufferPointer(start: p.data + row * classes, count: classes)
                if scores.indices.max(by: { scores[$0] < scores[$1] }) == label { correct += 1 }
            }
        }
        print(String(format: "0. shipped LeNet-5 (%@, all ten digits, %@ preprocessing): %.1f%% on the %d digits it was not trained on",
                     shipped, model.preprocessing.rawValue, 100 * Double(correct) / Double(heldOut.count), heldOut.count))
    }

    /// The seed `make lenet5-weights` trains the shipped weights with (it decides their validation split).
    static let shippedSeed: UInt64 = 7

    /// LeNet-5 (modern form) with logits out: the loss applies the softmax.
    func lenet(classes: Int) throws -> Model {
        RandomGenerator.global.reseed(seed)
        return try Catalog.architecture(named: "lenet5").make(ModelOptions(classes: classes, classifierActivation: .linear))
    }

    /// Digits 0-4 and digits 5-9 (relabelled 0-4).
    func split(_ digits: LabeledData) throws -> (LabeledData, LabeledData) {
        let low = digits.labels.indices.filter { digits.labels[$0] < 5 }
        let high = digits.labels.indices.filter { digits.labels[$0] >= 5 }
        let a = try digits.subset(low)
        let b = try digits.subset(high)
        return (try LabeledData(inputs: a.inputs, labels: a.labels, classes: 5),
                try LabeledData(inputs: b.inputs, labels: b.labels.map { $0 - 5 }, classes: 5))
    }

    /// `shots` seeded examples per class, and the rest.
    func fewShot(_ data: LabeledData) throws -> (LabeledData, LabeledData) {
        var order = Array(0..<data.count)
        RandomGenerator(seed: seed + 1).shuffle(&order)
        var taken = [Int](repeating: 0, count: data.classes)
        var few: [Int] = [], rest: [Int] = []
        for i in order {
            if taken[data.labels[i]] < shots { taken[data.labels[i]] += 1; few.append(i) } else { rest.append(i) }
        }
        return (try data.subset(few.sorted()), try data.subset(rest.sorted()))
    }

    /// The pre-trained LeNet-5 from `file` with a new head for five classes, frozen as planned
    /// (`zoo finetune`'s path: the head keeps LeNet-5's own initialization).
    func transferred(from file: URL, trainableFrom: String?) throws -> (model: Model, plan: FreezePlan) {
        RandomGenerator.global.reseed(seed)
        let (model, report) = try NewHeadModel.build(architecture: "lenet5", weights: file, classes: 5)
        let plan = try FreezePlan(model: model, newLayers: NewHeadModel.newLayers(report), trainableFrom: trainableFrom)
        plan.apply()
        return (model, plan)
    }

    /// Trains for 60 epochs on `train` (batches of 10) and returns the top-1 accuracy on `test`.
    func fit(_ model: Model, _ train: LabeledData, _ test: LabeledData, groups: [ParameterGroup],
             learningRate: Double) throws -> Double {
        let trainer = Trainer(model: model.network, loss: SoftmaxCrossEntropy(),
                              optimizer: try Adam(groups: groups, learningRate: learningRate),
                              configuration: TrainingConfiguration(batchSize: 10, seed: seed))
        try trainer.fit(train, epochs: 60)
        return try trainer.evaluate(test).top1
    }
}
