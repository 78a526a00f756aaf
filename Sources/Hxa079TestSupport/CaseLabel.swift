// CaseLabel: names the case of a sweep, so every failure says which one.
//
// Contract: tests build a label from `name: value` pairs and pass it as the
// comment of each expectation; a failing sweep then reads like
// `seed 7, T 17, L 16, layer 3`. (swift-collections' `withEvery` trace idea.)

public struct CaseLabel: CustomStringConvertible, Sendable {
    public private(set) var parts: [(String, String)] = []

    public init() {}

    public init(_ pairs: KeyValuePairs<String, Any>) {
        for (k, v) in pairs { parts.append((k, "\(v)")) }
    }

    /// A copy with one more `name value` pair.
    public func with(_ name: String, _ value: Any) -> CaseLabel {
        var c = self
        c.parts.append((name, "\(value)"))
        return c
    }

    public var description: String { parts.map { "\($0.0) \($0.1)" }.joined(separator: ", ") }
}

/// Runs `body` for every element of `values`, extending `label` with `name`.
package func withEvery<S: Sequence>(_ name: String, in values: S, label: CaseLabel = CaseLabel(),
                                   _ body: (S.Element, CaseLabel) throws -> Void) rethrows {
    for v in values { try body(v, label.with(name, v)) }
}
