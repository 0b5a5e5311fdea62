import Foundation
import Engine

/// The optimizers `zoo finetune` offers by name, with PyTorch's defaults apart from the learning rate.
public enum OptimizerChoice: String, CaseIterable, Sendable {
    case sgd
    /// SGD with momentum 0.9, the usual fine-tuning recipe.
    case momentum
    case nesterov
    case adam, adamw, rmsprop, adagrad, adadelta

    /// The optimizer over `groups`; a group without its own learning rate takes `learningRate`.
    public func make(groups: [ParameterGroup], learningRate: Double) throws -> Optimizer {
        switch self {
        case .sgd: return try SGD(groups: groups, learningRate: learningRate)
        case .momentum: return try SGD(groups: groups, learningRate: learningRate, momentum: 0.9)
        case .nesterov: return try SGD(groups: groups, learningRate: learningRate, momentum: 0.9, nesterov: true)
        case .adam: return try Adam(groups: groups, learningRate: learningRate)
        case .adamw: return try AdamW(groups: groups, learningRate: learningRate)
        case .rmsprop: return try RMSprop(groups: groups, learningRate: learningRate)
        case .adagrad: return try Adagrad(groups: groups, learningRate: learningRate)
        case .adadelta: return try Adadelta(groups: groups, learningRate: learningRate)
        }
    }
}

/// The batch augmentations `zoo finetune --augment` offers by name, sized to the input.
public enum AugmentationChoice: String, CaseIterable, Sendable {
    case flip, crop
    /// torchvision's RandomResizedCrop (scale 0.08-1, ratio 3/4-4/3), back to the input size.
    case resizedCrop = "resized-crop"
    case cutout, mixup, cutmix

    /// The augmentation for inputs of `height` x `width`.
    public func make(height: Int, width: Int) -> BatchAugmentation {
        switch self {
        case .flip: return RandomHorizontalFlip()
        case .crop: return RandomCrop(padding: max(1, min(height, width) / 8))
        case .resizedCrop: return RandomResizedCrop()
        case .cutout: return Cutout(size: max(1, min(height, width) / 4))
        case .mixup: return Mixup(alpha: 0.2)
        case .cutmix: return CutMix(alpha: 1)
        }
    }

    /// Parses `flip,crop,...`.
    public static func parse(_ list: String) throws -> [AugmentationChoice] {
        try list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "none" }
            .map { name in
                guard let choice = AugmentationChoice(rawValue: name) else {
                    throw TransferError("unknown augmentation '\(name)'; choose from "
                        + allCases.map(\.rawValue).joined(separator: ", "))
                }
                return choice
            }
    }
}
