// DebuggerSlice: numpy-like slices for the debugger's `p NAME [SLICE]`.
//
// Contract: a slice is a comma-separated list of items, one per leading axis:
//   i        one index (negative counts from the end); the axis is dropped
//   a:b      indices a ..< b (either side may be omitted)
//   a:b:s    with step s ≠ 0 (negative steps walk backwards, numpy rules)
// Axes without an item are taken whole. Range bounds are clipped to the
// axis as numpy does; a single index outside the axis, more items than
// axes, a zero step or unparsable text is an error with a one-line message
// naming the axis. Applying a slice yields the selected source indices per
// axis; the flat indices are enumerated in row-major order.

import Hxa079
import Hxa079Fixtures

/// One item of a slice.
enum SliceItem: Equatable {
    case index(Int)
    case range(start: Int?, stop: Int?, step: Int?)
}

struct SliceError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A parsed slice such as `3,1,0:8`.
struct TensorSlice: Equatable {
    var items: [SliceItem]
    /// Each item as written (for labels such as `[0, 1, 0:8]`).
    var texts: [String]

    /// The whole tensor.
    static let all = TensorSlice(items: [], texts: [])

    init(items: [SliceItem], texts: [String]) {
        self.items = items
        self.texts = texts
    }

    /// Parses `text`; spaces around items are ignored.
    init(parsing text: String) throws {
        let trimmed = text.filter { $0 != " " && $0 != "\t" }
        if trimmed.isEmpty { throw SliceError("empty slice") }
        let parts = trimmed.split(separator: ",", omittingEmptySubsequences: false)
        texts = parts.map(String.init)
        items = try parts.map { part in
            let p = String(part)
            if p.isEmpty { throw SliceError("bad slice \"\(text)\": empty item") }
            if !p.contains(":") {
                guard let i = Int(p) else { throw SliceError("bad slice \"\(text)\": \"\(p)\" is not an index or a:b range") }
                return .index(i)
            }
            let bounds = p.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard bounds.count <= 3 else { throw SliceError("bad slice \"\(text)\": \"\(p)\" has more than two colons") }
            func bound(_ s: String) throws -> Int? {
                if s.isEmpty { return nil }
                guard let v = Int(s) else { throw SliceError("bad slice \"\(text)\": \"\(s)\" is not an integer") }
                return v
            }
            let step = bounds.count == 3 ? try bound(bounds[2]) : nil
            if step == 0 { throw SliceError("bad slice \"\(text)\": step must not be 0") }
            return .range(start: try bound(bounds[0]), stop: try bound(bounds[1]), step: step)
        }
    }

    /// What a slice selects from a tensor.
    struct Selection {
        /// Selected source indices for every axis of the source.
        var indices: [[Int]]
        /// True for axes removed by a single index.
        var dropped: [Bool]
        var sourceShape: [Int]

        /// Shape of the result (dropped axes removed).
        var shape: [Int] { zip(indices, dropped).filter { !$0.1 }.map { $0.0.count } }
        var count: Int { indices.reduce(1) { $0 * $1.count } }

        /// Flat source indices in row-major order of the result.
        func flatIndices() -> [Int] {
            var out: [Int] = []
            out.reserveCapacity(count)
            if count == 0 { return out }
            var strides = [Int](repeating: 1, count: sourceShape.count)
            for a in stride(from: sourceShape.count - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * sourceShape[a + 1] }
            var position = [Int](repeating: 0, count: indices.count)
            while true {
                var flat = 0
                for a in 0..<indices.count { flat += indices[a][position[a]] * strides[a] }
                out.append(flat)
                var a = indices.count - 1
                while a >= 0 {
                    position[a] += 1
                    if position[a] < indices[a].count { break }
                    position[a] = 0
                    a -= 1
                }
                if a < 0 { return out }
            }
        }
    }

    /// The selection of this slice in a tensor of `shape` whose axes are called `labels`.
    func select(shape: [Int], labels: [String]) throws -> Selection {
        guard items.count <= shape.count else {
            throw SliceError("slice has \(items.count) items but the tensor has \(shape.count) ax\(shape.count == 1 ? "is" : "es") \(shapeDescription(shape))")
        }
        var indices: [[Int]] = []
        var dropped: [Bool] = []
        for (axis, n) in shape.enumerated() {
            let label = axis < labels.count ? labels[axis] : "axis \(axis)"
            guard axis < items.count else {
                indices.append(Array(0..<n)); dropped.append(false); continue
            }
            switch items[axis] {
            case .index(let i0):
                let i = i0 < 0 ? i0 + n : i0
                guard i >= 0 && i < n else {
                    throw SliceError("index \(i0) is out of range for axis \(axis) (\(label), size \(n))")
                }
                indices.append([i]); dropped.append(true)
            case .range(let start, let stop, let step0):
                indices.append(Self.rangeIndices(start: start, stop: stop, step: step0 ?? 1, count: n)); dropped.append(false)
            }
        }
        return Selection(indices: indices, dropped: dropped, sourceShape: shape)
    }

    /// numpy's `range(*slice(start, stop, step).indices(n))`.
    static func rangeIndices(start: Int?, stop: Int?, step: Int, count n: Int) -> [Int] {
        var out: [Int] = []
        if step > 0 {
            var lo = start ?? 0, hi = stop ?? n
            if lo < 0 { lo += n }
            if hi < 0 { hi += n }
            lo = min(max(lo, 0), n)
            hi = min(max(hi, 0), n)
            var i = lo
            while i < hi { out.append(i); i += step }
        } else {
            var lo = start ?? (n - 1), hi = stop ?? -1
            if let s = start, s < 0 { lo = s + n }
            if let s = stop, s < 0 { hi = s + n }
            lo = min(max(lo, -1), n - 1)
            hi = min(max(hi, -1), n - 1)
            var i = lo
            while i > hi { out.append(i); i += step }
        }
        return out
    }
}
