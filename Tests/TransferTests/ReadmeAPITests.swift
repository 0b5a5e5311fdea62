import Engine
import Foundation
import TestSupport
import Transfer
import WeightIO
import XCTest
import Zoo

/// The README's Swift API section, kept compiling: `readmeExample` below is that section's code
/// (the compiler checks it against today's API), and the test checks the README still shows it.
final class ReadmeAPITests: XCTestCase {
    /// Never called: it would need the README's files. Its body is the README's block, verbatim.
    func readmeExample() throws {
        let model = try Catalog.architecture(named: "resnet50-keras").make()      // ModelOptions() = Keras's defaults
        print(try model.loadWeights(from: URL(fileURLWithPath: "resnet50_weights_tf_dim_ordering_tf_kernels.h5")))
        let batch = try NPY.read(URL(fileURLWithPath: "batch.npy"))               // (n, 224, 224, 3), preprocessed
        let probabilities = try model.predict(batch)                              // (n, 1000)

        let photos = try ImageFolder(root: URL(fileURLWithPath: "photos"), pipeline: ImagePipeline(model: model))
        let features = try FeatureExtractor(model: model, layer: "avg_pool").extract(from: photos)  // streamed, (n, 2048)
        try FeatureFile.write(features, to: URL(fileURLWithPath: "avg_pool.h5"))                   // with labels and paths

        let (tuned, report) = try NewHeadModel.build(architecture: "resnet50-keras", weights: URL(fileURLWithPath: "resnet50.h5"),
                                                     classes: photos.classNames.count)             // a new head
        let plan = try FreezePlan(model: tuned, newLayers: NewHeadModel.newLayers(report), trainableFrom: "conv5_block1")
        let result = try FineTuner(model: tuned, plan: plan, settings: FineTuneSettings())
            .run(on: photos, output: URL(fileURLWithPath: "tuned.h5"), checkpoints: URL(fileURLWithPath: "tuned.checkpoints"))
        var options = ModelOptions()
        options.transformInput = true                                              // torchvision's ImageNet GoogLeNet weights
        let (googlenet, _) = try Model.load(from: URL(fileURLWithPath: "googlenet-1378be20.pth"), options: options)
        try googlenet.saveWeights(to: URL(fileURLWithPath: "googlenet.safetensors"), format: .safetensors)  // torchvision's keys
        let pyramid = try FeatureExtractor(model: model, layers: ["pyramid"])                        // or ["conv3_block4_out", "avg_pool"]
        let levels = try pyramid.extractEachLayer(from: photos)                                     // one pass, one matrix per layer
        try pyramid.write(from: photos, to: URL(fileURLWithPath: "pyramid.h5"))                     // spooled: one batch in memory
        var gray = ModelOptions()
        gray.inputChannels = 1                                                      // RGB weights adapted as timm does
        let grayModel = try Model.load(from: URL(fileURLWithPath: "resnet50.h5"), options: gray).model
        _ = (probabilities, features, result, levels, grayModel)
    }

    func testTheReadmeShowsTheCodeThatCompilesHere() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let block = try XCTUnwrap(readme.components(separatedBy: "## The Swift API\n\n```swift\n").dropFirst().first?
            .components(separatedBy: "```").first, "the README's Swift API block")
        let here = try String(contentsOfFile: #filePath, encoding: .utf8)
        for line in block.split(separator: "\n") where !line.hasPrefix("import ") {
            XCTAssertTrue(here.contains("        " + line + "\n"), "README line not compiled here: \(line)")
        }
        XCTAssertEqual(block.split(separator: "\n").filter { $0.hasPrefix("import ") }, ["import Engine", "import Transfer", "import WeightIO", "import Zoo"])
    }
}
