import Engine

/// Keeps a fine-tuning run's settings in its checkpoints, so a resumed run with other settings
/// (another seed would change the split; another learning rate would be ignored) is refused,
/// naming each setting that differs. The epoch count may change: a resumed run continues to the new count.
final class RecordedSettings: CheckpointableCallback {
    let settings: FineTuneSettings

    init(_ settings: FineTuneSettings) { self.settings = settings }

    var checkpointKey: String { "settings" }

    /// Each setting under its checkpoint key (the CLI flag that set it, kept as the stored name),
    /// with its `FineTuneSettings` property and its value as a number (exact for these).
    var values: [(key: String, setting: String, value: Double)] {
        [("--seed (high word)", "seed", Double(settings.seed >> 32)), ("--seed (low word)", "seed", Double(settings.seed & 0xFFFF_FFFF)),
         ("--lr", "learningRate", settings.learningRate), ("--trunk-lr", "trunkLearningRate", settings.trunkLearningRate ?? -1),
         ("--batch", "batchSize", Double(settings.batchSize)), ("--val-split", "validationFraction", settings.validationFraction),
         ("--early-stop", "earlyStopPatience", Double(settings.earlyStopPatience ?? 0)),
         ("--augment", "augmentations", Double(settings.augmentations.reduce(0) { code, choice in
             code * 8 + (AugmentationChoice.allCases.firstIndex(of: choice)! + 1) })),
         ("--sync-bn", "synchronizeBatchNorm", settings.synchronizeBatchNorm ? 1 : 0)]
    }

    /// What a checkpoint written before a setting existed holds for it: that setting's old behaviour.
    static let before = ["--sync-bn": 0.0]

    func saveState() -> CallbackState {
        CallbackState(scalars: Dictionary(uniqueKeysWithValues: values.map { ($0.key, $0.value) }))
    }

    func loadState(_ state: CallbackState) throws {
        let differing = values.filter { (state.scalars[$0.key] ?? Self.before[$0.key]) != $0.value }.map(\.setting)
        guard differing.isEmpty else { throw ResumedSettingsMismatch(settings: Array(Set(differing)).sorted()) }
    }
}

/// A resumed fine-tuning run whose settings differ from those its checkpoint was written with.
public struct ResumedSettingsMismatch: Error, CustomStringConvertible {
    /// The `FineTuneSettings` properties that differ, sorted.
    public let settings: [String]

    public var description: String {
        "the checkpoint was written with other " + settings.joined(separator: ", ")
            + "; resume with the settings of the interrupted run, or start afresh"
    }
}
