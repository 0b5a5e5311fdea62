import Dispatch
import Foundation

/// Reports training as it runs: on a terminal a progress bar redrawn in place with throughput and
/// ETA; otherwise (a pipe, a log file, CI) plain `key=value` lines that a script can parse.
public final class ProgressLogger: TrainingCallback {
    /// How the progress is drawn.
    public enum Style: Sendable {
        /// One line per epoch redrawn after every batch, then kept.
        case bar
        /// `epoch=3/10 loss=0.1234 top1=0.9650 val_loss=... val_top1=... lr=0.001 samples_per_second=... seconds=...`
        case lines
    }

    public let style: Style
    /// With `.lines`, also a `batch=` line every this many batches (0: none).
    public let batchLineInterval: Int
    private let emit: (String) -> Void
    private var totalEpochs = 0
    private var epochStarted: UInt64 = 0
    private var samplesSeen = 0
    private var lossSum = 0.0

    /// `style` nil: a bar when standard output is a terminal, lines otherwise. `emit` receives the
    /// text exactly as it is to be written (bars carry their own "\r"), by default to standard output.
    public init(style: Style? = nil, batchLineInterval: Int = 0, emit: ((String) -> Void)? = nil) {
        self.style = style ?? (isatty(STDOUT_FILENO) != 0 ? .bar : .lines)
        self.batchLineInterval = batchLineInterval
        // Through stdio, as print() writes, so the two never interleave out of order.
        self.emit = emit ?? { text in
            fputs(text, stdout)
            fflush(stdout)
        }
    }

    public func trainingStarted(_ trainer: Trainer, epochs: Int) throws {
        totalEpochs = epochs
        resetEpoch()
    }

    private func resetEpoch() {
        epochStarted = DispatchTime.now().uptimeNanoseconds
        samplesSeen = 0
        lossSum = 0
    }

    public func batchEnded(_ trainer: Trainer, _ batch: BatchRecord) throws {
        if batch.batch == 1 { resetEpoch() }
        samplesSeen += batch.samples
        lossSum += Double(batch.loss) * Double(batch.samples)
        let elapsed = max(1e-9, Double(DispatchTime.now().uptimeNanoseconds - epochStarted) / 1e9)
        let throughput = Double(samplesSeen) / elapsed
        let meanLoss = lossSum / Double(max(samplesSeen, 1))
        switch style {
        case .bar:
            let eta = elapsed / Double(batch.batch) * Double(batch.batchesInEpoch - batch.batch)
            emit("\r" + ProgressLogger.bar(epoch: batch.epoch, of: totalEpochs, done: batch.batch,
                                           total: batch.batchesInEpoch)
                 + String(format: " %.0f samples/s ETA ", throughput) + ProgressLogger.clock(eta)
                 + String(format: " loss %.4f", meanLoss))
        case .lines:
            guard batchLineInterval > 0, batch.batch % batchLineInterval == 0 || batch.batch == batch.batchesInEpoch
            else { return }
            emit(String(format: "epoch=%d/%d batch=%d/%d loss=%.6f lr=%g samples_per_second=%.1f\n", batch.epoch,
                        totalEpochs, batch.batch, batch.batchesInEpoch, meanLoss, batch.learningRate, throughput))
        }
    }

    public func epochEnded(_ trainer: Trainer, _ record: EpochRecord) throws {
        let samplesPerSecond = Double(record.training.samples) / max(record.seconds, 1e-9)
        var fields = [String(format: "epoch=%d/%d", record.epoch, totalEpochs),
                      String(format: "loss=%.6f", record.training.loss),
                      String(format: "top1=%.4f", record.training.top1)]
        if let v = record.validation {
            fields += [String(format: "val_loss=%.6f", v.loss), String(format: "val_top1=%.4f", v.top1)]
            // With 5 classes or fewer every label is in the top 5: the figure would always be 1.
            if v.confusion.count > 5 { fields.append(String(format: "val_top5=%.4f", v.top5)) }
        }
        fields += [String(format: "lr=%g", record.learningRate), String(format: "samples_per_second=%.1f", samplesPerSecond),
                   String(format: "seconds=%.3f", record.seconds)]
        switch style {
        case .bar:
            let done = ProgressLogger.bar(epoch: record.epoch, of: totalEpochs, done: 1, total: 1)
            emit("\r\u{1B}[2K" + done + " " + fields.dropFirst().joined(separator: " ") + "\n")
        case .lines:
            emit(fields.joined(separator: " ") + "\n")
        }
    }

    public func trainingEnded(_ trainer: Trainer) throws {
        if let reason = trainer.stopReason {
            emit(style == .lines ? "stopped reason=\"\(reason)\"\n" : "stopped: \(reason)\n")
        }
    }

    static func bar(epoch: Int, of epochs: Int, done: Int, total: Int, width: Int = 24) -> String {
        let filled = total == 0 ? width : width * done / total
        let arrow = filled < width ? ">" : ""
        let body = String(repeating: "=", count: max(0, filled - arrow.count)) + arrow
            + String(repeating: " ", count: width - filled)
        return "epoch \(epoch)/\(epochs) [\(body)] \(done)/\(total)"
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }
}
