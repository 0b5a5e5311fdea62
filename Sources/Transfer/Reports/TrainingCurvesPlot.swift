import Engine
import Foundation

/// Training curves as an SVG image: loss and top-1 accuracy per epoch, training and validation,
/// in two panels side by side. Non-finite values are left out of their curve.
public enum TrainingCurvesPlot {
    /// A curve's element id and stroke colour; training in blue, validation in orange.
    static let series = [("training", "#1f77b4"), ("validation", "#ff7f0e")]

    static let width = 960.0, height = 420.0
    /// Each panel's plotting area: top and size, and the left edges of the two panels.
    static let plotTop = 80.0, plotWidth = 370.0, plotHeight = 270.0
    static let panelLefts = [70.0, 550.0]

    /// The SVG document of `history`'s curves under `title`; validation curves only when the
    /// history has validation figures.
    public static func svg(_ history: [EpochRecord], title: String) -> String {
        let epochs = history.map { Double($0.epoch) }
        let hasValidation = history.contains { $0.validation != nil }
        let loss = [history.map { $0.training.loss }, history.map { $0.validation?.loss ?? .nan }]
        let accuracy = [history.map { $0.training.top1 }, history.map { $0.validation?.top1 ?? .nan }]
        let shown = hasValidation ? 2 : 1

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(number(width / 2))" y="26" text-anchor="middle" font-size="16">\(Markup.escaped(title))</text>

            """
        // One legend for both panels, centred under the title.
        let legendLeft = width / 2 - Double(shown) * 55
        for (i, (name, colour)) in series.prefix(shown).enumerated() {
            let x = legendLeft + Double(i) * 110
            svg += "<line x1=\"\(number(x))\" y1=\"46\" x2=\"\(number(x + 24))\" y2=\"46\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(number(x + 30))\" y=\"50\">\(name)</text>\n"
        }

        let epochAxis = Axis(covering: epochs, integers: true)
        let lossValues = loss.prefix(shown).flatMap { $0 }
        let panels: [(name: String, label: String, values: [[Double]], axis: Axis)] = [
            ("loss", "loss", loss, Axis(covering: lossValues, integers: false)),
            ("accuracy", "top-1 accuracy", accuracy, Axis(lower: 0, upper: 1, step: 0.2)),
        ]
        for (panel, left) in zip(panels, panelLefts) {
            let percent = panel.name == "accuracy"
            let frame = Frame(left: left, top: plotTop, width: plotWidth, height: plotHeight, x: epochAxis, y: panel.axis)
            svg += "<g id=\"\(panel.name)-panel\">\n"
            svg += "<text x=\"\(number(left + plotWidth / 2))\" y=\"\(number(plotTop - 10))\" text-anchor=\"middle\" "
                + "font-size=\"14\">\(panel.label)</text>\n"
            svg += frame.axes(xLabel: "epoch", yFormat: percent ? { "\(Int(($0 * 100).rounded()))%" } : nil)
            for (s, (name, colour)) in series.prefix(shown).enumerated() {
                let points = zip(epochs, panel.values[s]).filter { $0.1.isFinite }.map { frame.point(x: $0.0, y: $0.1) }
                guard !points.isEmpty else { continue }
                svg += "<polyline id=\"\(panel.name)-\(name)\" class=\"series\" fill=\"none\" stroke=\"\(colour)\" "
                    + "stroke-width=\"2\" points=\"\(points.map { "\(number($0.x)),\(number($0.y))" }.joined(separator: " "))\"/>\n"
                for p in points {
                    svg += "<circle cx=\"\(number(p.x))\" cy=\"\(number(p.y))\" r=\"3\" fill=\"\(colour)\"/>"
                }
                svg += "\n"
            }
            svg += "</g>\n"
        }
        return svg + "</svg>\n"
    }

    /// An axis range with evenly spaced ticks at round values (1, 2 or 5 times a power of ten).
    struct Axis {
        var lower: Double, upper: Double, step: Double

        init(lower: Double, upper: Double, step: Double) {
            self.lower = lower
            self.upper = upper
            self.step = step
        }

        /// The range covering the finite `values` with about 5 ticks, widened to round numbers;
        /// epochs (`integers`) get a tight range with whole-number ticks inside it instead.
        init(covering values: [Double], integers: Bool) {
            let finite = values.filter(\.isFinite)
            var lo = finite.min() ?? 0, hi = finite.max() ?? 1
            if hi - lo < 1e-12 * max(1, abs(hi)) {
                let pad = integers ? 1 : max(abs(hi) * 0.1, 0.1)
                lo -= pad
                hi += pad
            }
            let raw = (hi - lo) / (integers ? 8 : 5)
            let magnitude = pow(10, (log10(raw)).rounded(.down))
            let fraction = raw / magnitude
            let step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
            if integers {
                self.init(lower: lo, upper: hi, step: max(1, step.rounded(.up)))
            } else {
                self.init(lower: (lo / step).rounded(.down) * step, upper: (hi / step).rounded(.up) * step, step: step)
            }
        }

        /// The multiples of `step` from `lower` to `upper`.
        var ticks: [Double] {
            let first = (lower / step - 1e-9).rounded(.up), last = (upper / step + 1e-9).rounded(.down)
            guard last >= first else { return [] }
            return (Int(first)...Int(last)).map { Double($0) * step }
        }

        /// A tick label with as many decimals as the step needs.
        func label(_ value: Double) -> String {
            let decimals = max(0, Int((-log10(step)).rounded(.up)))
            return String(format: "%.\(decimals)f", value == 0 ? 0 : value)
        }
    }

    /// A panel's plotting area and the axes mapping data into it.
    struct Frame {
        var left, top, width, height: Double
        var x: Axis, y: Axis

        func point(x value: Double, y data: Double) -> (x: Double, y: Double) {
            (left + (value - x.lower) / (x.upper - x.lower) * width, top + height - (data - y.lower) / (y.upper - y.lower) * height)
        }

        /// Grid lines, tick labels, the frame and the x axis title.
        func axes(xLabel: String, yFormat: ((Double) -> String)?) -> String {
            let bottom = top + height, right = left + width
            var s = ""
            for t in y.ticks {
                let py = point(x: x.lower, y: t).y
                s += "<line x1=\"\(number(left))\" y1=\"\(number(py))\" x2=\"\(number(right))\" y2=\"\(number(py))\" stroke=\"#e0e0e0\"/>"
                s += "<text x=\"\(number(left - 6))\" y=\"\(number(py + 4))\" text-anchor=\"end\">\(yFormat?(t) ?? y.label(t))</text>\n"
            }
            for t in x.ticks {
                let px = point(x: t, y: y.lower).x
                s += "<line x1=\"\(number(px))\" y1=\"\(number(bottom))\" x2=\"\(number(px))\" y2=\"\(number(bottom + 5))\" stroke=\"black\"/>"
                s += "<text x=\"\(number(px))\" y=\"\(number(bottom + 18))\" text-anchor=\"middle\">\(x.label(t))</text>\n"
            }
            s += "<rect x=\"\(number(left))\" y=\"\(number(top))\" width=\"\(number(width))\" height=\"\(number(height))\" "
                + "fill=\"none\" stroke=\"black\"/>\n"
            s += "<text x=\"\(number(left + width / 2))\" y=\"\(number(bottom + 36))\" text-anchor=\"middle\">\(xLabel)</text>\n"
            return s
        }
    }

    /// A coordinate with two decimals, never in exponent notation.
    static func number(_ value: Double) -> String { String(format: "%.2f", value) }
}
