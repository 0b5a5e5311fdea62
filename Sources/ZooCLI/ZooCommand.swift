import ArgumentParser

@main
struct ZooCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zoo",
        abstract: "Classic convolutional networks with Keras- and torchvision-identical numbers.",
        subcommands: [ListCommand.self, SummaryCommand.self, RunCommand.self, InspectCommand.self, ConvertCommand.self,
                      BenchCommand.self, FetchCommand.self])
}
