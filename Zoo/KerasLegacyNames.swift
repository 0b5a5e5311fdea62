import Foundation

/// The layer names of the original Keras ResNet50 weight file (Keras <= 2.2:
/// `resnet50_weights_tf_dim_ordering_tf_kernels.h5`), mapped to today's Keras Applications names.
///
/// That file lists a projecting block as `2a, 2b, 2c, 1` (main path first), where today's model
/// lists `_1, _2, _0, _3`: both shortcut and third convolutions are 1x1 with the same shape, so a
/// positional load would swap them silently. Loading by these names cannot.
enum KerasLegacyResNetNames {
    /// The renames as an architecture's description holds them.
    static let names = LegacyLayerNames(matches: matches, rename: modernName)

    /// True when `names` are the original file's (`res2a_branch2a` ...).
    @Sendable static func matches(_ names: [String]) -> Bool { names.contains("res2a_branch2a") }

    /// `conv1` -> `conv1_conv`, `bn_conv1` -> `conv1_bn`, `fc1000` -> `predictions`,
    /// `res3b_branch2c` -> `conv3_block2_3_conv`, `bn4a_branch1` -> `conv4_block1_0_bn`.
    @Sendable static func modernName(_ name: String) -> String {
        switch name {
        case "conv1": return "conv1_conv"
        case "bn_conv1": return "conv1_bn"
        case "fc1000": return "predictions"
        default: break
        }
        let isBN = name.hasPrefix("bn")
        let body = name.dropFirst(isBN ? 2 : 3)   // "2a_branch2a"
        guard let stage = body.first, stage.isNumber, let underscore = body.firstIndex(of: "_") else { return name }
        let blockLetter = body[body.index(after: body.startIndex)..<underscore]
        guard blockLetter.count == 1, let letter = blockLetter.unicodeScalars.first,
              (97...122).contains(letter.value) else { return name }
        let block = Int(letter.value) - 96
        let branch = body[body.index(after: underscore)...]
        let unit: String
        switch branch {
        case "branch2a": unit = "1"
        case "branch2b": unit = "2"
        case "branch2c": unit = "3"
        case "branch1": unit = "0"
        default: return name
        }
        return "conv\(stage)_block\(block)_\(unit)_" + (isBN ? "bn" : "conv")
    }
}
