import ArgumentParser
import Engine
import Foundation
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

    /// ArgumentParser's entry point, and under mpirun: only rank 0 prints its standard output,
    /// MPI is finalized at the end, and an error on any rank ends every rank (they would otherwise
    /// wait for it in their next collective). Without mpirun this is ArgumentParser's own `main`.
    static func main() {
        guard let launch = Launch.current else { return main(nil) }
        if launch.rank != 0 { _ = freopen("/dev/null", "w", stdout) }
        do {
            var command = try parseAsRoot()
            try command.run()
            Cluster.finish()
        } catch {
            guard Cluster.isJoined else {
                // Parsing and validation fail alike on every rank: rank 0 says it once.
                if launch.rank == 0 { exit(withError: error) }
                Foundation.exit(exitCode(for: error).rawValue)
            }
            let code = exitCode(for: error).rawValue
            StandardError.write("Error on rank \(launch.rank) of \(launch.size): \(message(for: error))\n")
            Cluster.abort(code: code == 0 ? 1 : code)
        }
    }
}
