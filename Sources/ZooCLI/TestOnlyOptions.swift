import ArgumentParser
import Engine
import Foundation
import Zoo

// What exists only for the tests, in one place: hidden options that build the narrow twins of
// the full models, and an environment variable that interrupts a fine-tune at a known point.

/// Narrow twins of the full models (the fixtures' size), hidden from help.
struct TwinOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Divide every channel count (narrow twins for tests).", visibility: .hidden))
    var channelDivisor = 1

    @Option(help: ArgumentHelp("Units of hidden dense layers (narrow twins for tests).", visibility: .hidden))
    var hiddenUnits: Int?

    func validate() throws {
        try OptionCheck.inRange(channelDivisor, ModelOptions.channelDivisorRange, "--channel-divisor")
        try OptionCheck.inRange(hiddenUnits, ModelOptions.hiddenUnitsRange, "--hidden-units")
    }

    /// `options` with these set.
    func applied(to options: ModelOptions) -> ModelOptions {
        var o = options
        o.channelDivisor = channelDivisor
        o.hiddenUnits = hiddenUnits
        return o
    }
}

/// Kills the process abruptly (SIGKILL, no clean-up) once epoch `epoch`'s checkpoint is written and
/// the next epoch has begun: tests use it to interrupt a fine-tune at a known point and resume it.
/// Set by the environment variable `ZOO_TEST_KILL_AFTER_EPOCH`; under mpirun only the rank
/// `ZOO_TEST_KILL_RANK` names (default 0) is killed.
final class TestInterruption: TrainingCallback {
    let epoch: Int

    init(epoch: Int) { self.epoch = epoch }

    static func fromEnvironment() -> TestInterruption? {
        let env = ProcessInfo.processInfo.environment
        guard (Launch.current?.rank ?? 0) == env["ZOO_TEST_KILL_RANK"].flatMap(Int.init) ?? 0 else { return nil }
        return env["ZOO_TEST_KILL_AFTER_EPOCH"].flatMap(Int.init).map(TestInterruption.init)
    }

    func batchEnded(_ trainer: Trainer, _ batch: BatchRecord) throws {
        if batch.epoch == epoch + 1 { kill(getpid(), SIGKILL) }
    }
}
