/// Bar charts drawn on the server as inline SVG: no script, no library, readable without colour
/// (every bar has a `<title>` with its value, the chart a `<title>` and a `<desc>` with totals).
public enum SVGChart {
    /// One series of a chart.
    public struct Series: Sendable, Equatable {
        public var name: String
        public var values: [Int]
        /// The CSS class that colours its bars (`s1`, `s2`).
        public var cssClass: String
        public init(name: String, values: [Int], cssClass: String) {
            self.name = name
            self.values = values
            self.cssClass = cssClass
        }
    }

    /// Grouped bars: one group per label, one bar per series in each group, the y axis from 0 to
    /// the largest value (at least 1). `tickEvery` labels every n-th group on the x axis.
    public static func bars(title: String, series: [Series], labels: [String], tickEvery: Int = 1,
                            width: Int = 960, height: Int = 220) -> String {
        let left = 40.0, right = 8.0, top = 12.0, bottom = 28.0
        let groups = max(labels.count, series.map(\.values.count).max() ?? 0)
        let maxValue = max(1, series.flatMap(\.values).max() ?? 0)
        let plotWidth = Double(width) - left - right, plotHeight = Double(height) - top - bottom
        let groupWidth = groups == 0 ? plotWidth : plotWidth / Double(groups)
        let barWidth = max(1, (groupWidth * 0.8) / Double(max(1, series.count)))
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<title>\(escape(title))</title>"
        let totals = series.map { "\($0.name): \($0.values.reduce(0, +))" }.joined(separator: ", ")
        svg += "<desc>\(escape(totals))</desc>"
        // Axes and the top value.
        svg += "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotHeight))\"/>"
        svg += "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(top + plotHeight))\"/>"
        svg += "<text class=\"tick\" x=\"\(f(left - 4))\" y=\"\(f(top + 4))\" text-anchor=\"end\">\(maxValue)</text>"
        svg += "<text class=\"tick\" x=\"\(f(left - 4))\" y=\"\(f(top + plotHeight))\" text-anchor=\"end\">0</text>"
        for group in 0..<groups {
            let x0 = left + Double(group) * groupWidth + groupWidth * 0.1
            let label = group < labels.count ? labels[group] : ""
            for (index, one) in series.enumerated() {
                let value = group < one.values.count ? one.values[group] : 0
                let barHeight = plotHeight * Double(value) / Double(maxValue)
                let x = x0 + Double(index) * barWidth
                svg += "<rect class=\"\(escape(one.cssClass))\" x=\"\(f(x))\" y=\"\(f(top + plotHeight - barHeight))\" width=\"\(f(barWidth))\" height=\"\(f(barHeight))\">"
                svg += "<title>\(escape(label)): \(value) \(escape(one.name))</title></rect>"
            }
            if tickEvery > 0, group % tickEvery == 0, !label.isEmpty {
                svg += "<text class=\"tick\" x=\"\(f(x0))\" y=\"\(f(top + plotHeight + 16))\">\(escape(label))</text>"
            }
        }
        svg += "</svg>"
        return svg
    }

    /// Text for SVG/HTML: `&`, `<`, `>`, quotes escaped.
    public static func escape(_ text: String) -> String {
        var result = ""
        for c in text {
            switch c {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(c)
            }
        }
        return result
    }

    /// A coordinate with at most one decimal.
    static func f(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
