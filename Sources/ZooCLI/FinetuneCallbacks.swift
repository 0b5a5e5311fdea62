import Engine
import Foundation
import Transfer
import WeightIO

/// Rewrites the training-curves plot after every epoch, so it is there even if the run stops.
final class CurvesWriter: TrainingCallback {
    let url: URL
    let title: String

    init(url: URL, title: String) {
        self.url = url
        self.title = title
    }

    func epochEnded(_ trainer: Trainer, _ record: EpochRecord) throws {
        try AtomicFile.write(Data(TrainingCurvesPlot.svg(trainer.history, title: title).utf8), to: url)
    }
}
<<<<<<< HEAD

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
=======
>>>>>>> main
