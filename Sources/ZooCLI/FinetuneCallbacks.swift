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
        try DurableFile.write(Data(TrainingCurvesPlot.svg(trainer.history, title: title).utf8), to: url)
    }
}
