import Engine

/// Keeps a fine-tuning run's settings in its checkpoints, so a resumed run with other settings
/// (another seed would change the split; another learning rate would be ignored) is refused,
/// naming each setting that differs. `--epochs` may change: a resumed run continues to the new count.
final class RecordedSettings: CheckpointableCallback {
    let settings: FineTuneSettings

    init(_ settings: FineTuneSettings) { self.settings = settings }

    var checkpointKey: String { "settings" }

    /// Each setting as the option that sets it, with its value as a number (exact for these).
    var values: [(option: String, value: Double)] {
        [("--seed (high word)", Double(settings.seed >> 32)), ("--seed (low word)", Double(settings.seed & 0xFFFF_FFFF)),
         ("--lr", settings.learningRate), ("--trunk-lr", settings.trunkLearningRate ?? -1),
         ("--batch", Double(settings.batchSize)), ("--val-split", settings.validationFraction),
         ("--early-stop", Double(settings.earlyStopPatience ?? 0)),
         ("--augment", Double(settings.augmentations.reduce(0) { code, choice in
             code * 8 + (AugmentationChoice.allCases.firstIndex(of: choice)! + 1) })),
         ("--sync-bn", settings.synchronizeBatchNorm ? 1 : 0)]
    }

    /// What a checkpoint written before a setting existed holds for it: that setting's old behaviour.
    static let before = ["--sync-bn": 0.0]

    func saveState() -> CallbackState {
        CallbackState(scalars: Dictionary(uniqueKeysWithValues: values.map { ($0.option, $0.value) }))
    }

    func loadState(_ state: CallbackState) throws {
        let differing = values.filter { (state.scalars[$0.option] ?? Self.before[$0.option]) != $0.value }.map(\.option)
        guard differing.isEmpty else {
            let options = Array(Set(differing.map { $0.hasPrefix("--seed") ? "--seed" : $0 })).sorted()
            throw TransferError("--resume: the checkpoint was written with other " + options.joined(separator: ", ")
                + "; resume with the settings of the interrupted run, or start afresh without --resume")
        }
    }
}
