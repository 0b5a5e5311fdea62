import Foundation

/// Where a fine-tune puts what it writes beside its weight file `out`: the stem is `out` without
/// its extension (`.weights.h5` counts as one), the curves `<stem>-curves.svg` and the
/// checkpoints `<stem>.checkpoints`. `zoo evaluate --report` finds the curves by the same rule.
public struct FineTuneOutputs {
    public let stem: String

    /// The paths stay as relative or absolute as `out` is.
    public init(weights out: String) {
        let withoutExtension = (out as NSString).deletingPathExtension as NSString
        stem = withoutExtension.pathExtension == "weights" ? withoutExtension.deletingPathExtension : withoutExtension as String
    }

    /// The training curves (SVG), rewritten after every epoch.
    public var curves: String { stem + "-curves.svg" }
    /// The default checkpoint folder.
    public var checkpoints: String { stem + ".checkpoints" }
}
