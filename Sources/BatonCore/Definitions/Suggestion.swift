/// The candidate closest to `word` when it is close enough to be a likely typo
/// (edit distance 1 for words of 2 to 5 letters, 2 up to 12, 3 beyond; none for one letter, a swap of neighbours
/// counting as one edit); ties go to the earlier candidate.
func suggestion(for word: String, in candidates: [String]) -> String? {
    let target = Array(word.lowercased().unicodeScalars)
    let limit = target.count <= 1 ? 0 : target.count <= 5 ? 1 : target.count <= 12 ? 2 : 3
    var best: (candidate: String, distance: Int)?
    for candidate in candidates where candidate != word {
        let d = editDistance(target, Array(candidate.lowercased().unicodeScalars))
        if d <= limit, d < (best?.distance ?? Int.max) { best = (candidate, d) }
    }
    return best?.candidate
}

/// ` (did you mean "x"?)`, or nothing when no candidate is close.
func didYouMean(_ word: String, _ candidates: [String]) -> String {
    suggestion(for: word, in: candidates).map { " (did you mean \"\($0)\"?)" } ?? ""
}

/// Levenshtein distance, with a swap of two neighbours counted as one edit.
func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var before = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { current[j] = min(current[j], before[j - 2] + 1) }
        }
        (before, previous, current) = (previous, current, before)
    }
    return previous[b.count]
}
