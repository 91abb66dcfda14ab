/// `table`, with the last column wrapped at spaces to `width` characters and its continuation
/// lines indented under it: long errors stay whole (a variable's name at their end included).
func table(_ header: [String], _ rows: [[String]], wrappingLastAt width: Int) -> String {
    guard let lastIndex = header.indices.last else { return "" }
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() where i < lastIndex { widths[i] = max(widths[i], cell.count) } }
    let indent = String(repeating: " ", count: widths[..<lastIndex].reduce(0, +) + 2 * lastIndex)
    func lines(_ cells: [String]) -> [String] {
        let leading = cells.prefix(lastIndex).enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
        let last = cells.count > lastIndex ? wrapped(cells[lastIndex], width: width) : [""]
        return [(leading + [last[0]]).joined(separator: "  ")] + last.dropFirst().map { indent + $0 }
    }
    return ([lines(header)] + rows.map(lines)).flatMap { $0 }.joined(separator: "\n")
}

/// `text` in lines of at most `width` characters, broken at spaces. A longer word (a variable's
/// name, a URL) gets a line of its own, whole, so it can be read and copied.
func wrapped(_ text: String, width: Int) -> [String] {
    var result: [String] = []
    for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
        var line = ""
        for word in paragraph.split(separator: " ").map(String.init) {
            if line.isEmpty {
                line = word
            } else if line.count + 1 + word.count <= width {
                line += " " + word
            } else {
                result.append(line)
                line = word
            }
        }
        result.append(line)
    }
    return result.isEmpty ? [""] : result
}
