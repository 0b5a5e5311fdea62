import ArgumentParser
import WeightIO

@main
struct ZooCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zoo",
        abstract: "Classic convolutional networks with Keras- and torchvision-identical numbers.",
        version: ConvZooMetadata.currentVersion,
        subcommands: [DemoCommand.self, ListCommand.self, SummaryCommand.self, RunCommand.self, InspectCommand.self,
                      ConvertCommand.self, FetchCommand.self, BenchCommand.self,
                      PredictCommand.self, FeaturesCommand.self, EvaluateCommand.self, FinetuneCommand.self,
                      ExplainCommand.self, FiltersCommand.self, ActivationsCommand.self])
}
