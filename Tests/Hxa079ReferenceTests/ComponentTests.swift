// Unit tests of the reference components, each written once generically and
// run for Float and Double. Expected values are derived by hand in the
// comments; where a transcendental function is involved the expected value is
// evaluated in Double from the derived closed form.

import Testing
import Hxa079
@testable import Hxa079Reference
import RealModule
import Foundation

/// Tolerance in units of the type's epsilon for hand-derived values that pass
/// through a few roundings (measured ≤ 4 ulp on these cases; bound 16 ulp).
private func tol<T: BinaryFloatingPoint>(_: T.Type, ulps: Double = 16) -> Double { ulps * Double(T.ulpOfOne) }

private func expectClose<T: BinaryFloatingPoint>(_ got: [T], _ expected: [Double], _ label: String,
                                                  sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.count == expected.count, "\(label): length", sourceLocation: sourceLocation)
    let scale = max(expected.map { abs($0) }.max() ?? 0, 1)
    for (i, (g, e)) in zip(got, expected).enumerated() {
        #expect(abs(Double(g) - e) <= tol(T.self) * scale, "\(label)[\(i)]: \(g) vs \(e) (\(T.self))",
                sourceLocation: sourceLocation)
    }
}

// MARK: RMSNorm (SPEC.md (2))

func checkRMSNorm<T: ReferenceScalar>(_: T.Type) {
    // x = [1, 7], ε = 11: mean(x²) = (1 + 49)/2 = 25; 25 + 11 = 36; √36 = 6.
    // With γ = [6, 12]: y = [6·1/6, 12·7/6] = [1, 14].
    let y = rmsNorm([T(1), 7], count: 2, weight: [6, 12], eps: 11)
    expectClose(y, [1, 14], "rmsNorm")
    // ε = 0, x = [2, 2, 2, 2]: rms 2, y = γ·1.
    let z = rmsNorm([T(2), 2, 2, 2], count: 4, weight: [1, -2, 3, 0.5], eps: 0)
    expectClose(z, [1, -2, 3, 0.5], "rmsNorm unit")
    // Offsets: the second row of a [2][2] array.
    let rows = rmsNormRows([T(9), 9, 1, 7], rows: 2, count: 2, weight: [6, 12], eps: 11)
    expectClose(Array(rows[2...]), [1, 14], "rmsNormRows row 1")
}

@Test func rmsNormFloatAndDouble() {
    checkRMSNorm(Float.self)
    checkRMSNorm(Double.self)
}

// MARK: RoPE (SPEC.md (3)–(4))

func checkRoPE<T: ReferenceScalar>(_: T.Type) {
    // N = 4, θ = 10000: inv_freq = [θ^0, θ^(−2/4)] = [1, 0.01].
    let inv = ropeInverseFrequencies(headDim: 4, theta: T(10_000))
    expectClose(inv, [1, 0.01], "inv_freq")
    // p = 2, x = [1, 2, 3, 4]: x1 = [1, 2], x2 = [3, 4].
    // j = 0 (angle 2):    out0 = 1·cos2 − 3·sin2,       out2 = 3·cos2 + 1·sin2
    // j = 1 (angle 0.02): out1 = 2·cos.02 − 4·sin.02,   out3 = 4·cos.02 + 2·sin.02
    var x: [T] = [1, 2, 3, 4]
    applyRoPE(&x, heads: 1, headDim: 4, position: 2, inverseFrequencies: inv)
    let expected = [1 * cos(2.0) - 3 * sin(2.0), 2 * cos(0.02) - 4 * sin(0.02),
                    3 * cos(2.0) + 1 * sin(2.0), 4 * cos(0.02) + 2 * sin(0.02)]
    expectClose(x, expected, "rope p=2")
    // p = 0 is the identity (cos 0 = 1, sin 0 = 0 exactly); two heads rotate independently.
    var y: [T] = [1, 2, 3, 4, 5, 6, 7, 8]
    applyRoPE(&y, heads: 2, headDim: 4, position: 0, inverseFrequencies: inv)
    #expect(y == [1, 2, 3, 4, 5, 6, 7, 8])
}

@Test func ropeFloatAndDouble() {
    checkRoPE(Float.self)
    checkRoPE(Double.self)
}

// MARK: Scalar functions and the decay (SPEC.md §0.6, (13), (14), (17))

func checkScalars<T: ReferenceScalar>(_: T.Type) {
    // σ(0) = 1/(1+1) = 0.5 exactly; softplus(0) = 0 + log1p(1) = log 2; silu(0) = 0.
    #expect(sigmoid(T(0)) == 0.5)
    #expect(abs(Double(softplus(T(0))) - log(2.0)) <= tol(T.self))
    #expect(silu(T(0)) == 0)
    // softplus for large |z| does not overflow: softplus(1000) = 1000 + log1p(e^−1000) = 1000.
    #expect(softplus(T(1000)) == 1000)
    #expect(softplus(T(-1000)) == 0)
    // (14) with a zero LoRA and w0 = 0: w = −softplus(0) − 0.5 = −log 2 − 0.5 = −1.19315.
    let w = -softplus(-T(0)) - T(0.5)
    #expect(abs(Double(w) - (-log(2.0) - 0.5)) <= tol(T.self))
    // (17) decay d = exp(−exp(w)) = exp(−e^(−0.5)/2) for that w.
    let d = T.exp(-T.exp(w))
    #expect(abs(Double(d) - exp(-exp(-0.5) / 2)) <= tol(T.self))
    // The soft clamp: for any w0, w < −0.5 so d > exp(−e^(−0.5)) ≈ 0.5452 (SPEC.md (17)).
    // (d may round to exactly 1 when exp(w) is below half an ulp of 1, e.g. w0 = −20 in Float.)
    for w0 in [-20.0, -3, 0, 3, 30] {
        let ww = -softplus(-T(w0)) - T(0.5)
        let dd = T.exp(-T.exp(ww))
        #expect(ww <= T(-0.5) && dd >= T(exp(-exp(-0.5))) && dd <= 1, "w0 \(w0): w \(ww), d \(dd)")
    }
}

@Test func scalarFunctionsFloatAndDouble() {
    checkScalars(Float.self)
    checkScalars(Double.self)
}

// MARK: Linear maps and LoRA (SPEC.md §0.5)

func checkLinearMaps<T: ReferenceScalar>(_: T.Type) {
    // W = [[1, 2, 3], [4, 5, 6]], b = [10, 20], x = [1, 0, -1]:
    // y0 = 1 − 3 + 10 = 8; y1 = 4 − 6 + 20 = 18.
    let l = Linear<T>(outFeatures: 2, inFeatures: 3, weight: [1, 2, 3, 4, 5, 6], bias: [10, 20])
    #expect(l.apply([1, 0, -1]) == [8, 18])
    // LoRA: W1 [3][2] = [[1, 0], [0, 1], [1, 1]], W2 [2][1] = [[2], [-1]], x = [1, 2, 3]:
    // x·W1 = [1 + 3, 2 + 3] = [4, 5]; ·W2 = 8 − 5 = 3.
    let lr = LowRank<T>(inFeatures: 3, rank: 2, outFeatures: 1, down: [1, 0, 0, 1, 1, 1], up: [2, -1])
    let u = lr.down([1, 2, 3])
    #expect(u == [4, 5])
    #expect(lr.up(u) == [3])
}

@Test func linearMapsFloatAndDouble() {
    checkLinearMaps(Float.self)
    checkLinearMaps(Double.self)
}

// MARK: WKV one step by hand (SPEC.md (18)–(20))

func checkWKVStep<T: ReferenceScalar>(_: T.Type) {
    // One head, K = V = 2. S0 = [[1, 2], [3, 4]] (rows: value i, columns: key j).
    // α = [1, 0], β = [0, 1], d = [0.5, 0.5] (g = log 0.5), k̃ = [1, 1], v = [1, −1], r = [1, 0].
    // (18) sa = S0·α = [1, 3]                       (the OLD state)
    // (19) row 0: [1·.5 + 1·0 + 1·1, 2·.5 + 1·1 + 1·1] = [1.5, 3]
    //      row 1: [3·.5 + 3·0 − 1,   4·.5 + 3·1 − 1]   = [0.5, 4]
    // (20) o = S1·r = [1.5, 0.5]                    (the NEW state)
    let g = T.log(T(0.5))
    let x = WKVInput<T>(steps: 1, heads: 1, keySize: 2, valueSize: 2, r: [1, 0], logDecay: [g, g],
                        k: [1, 1], v: [1, -1], alpha: [1, 0], beta: [0, 1])
    var s: [T] = [1, 2, 3, 4]
    let o = WKV.recurrent(x, state: &s)
    expectClose(s, [1.5, 3, 0.5, 4], "state after one step")
    expectClose(o, [1.5, 0.5], "output")
    // A wrong reading of (18) — removal from the decayed state — gives sa = [0.5, 1.5]
    // and S1 row 0 = [1.5, 2.5]: our value must not be that.
    #expect(abs(Double(s[1]) - 2.5) > 0.1)
}

@Test func wkvOneStepFloatAndDouble() {
    checkWKVStep(Float.self)
    checkWKVStep(Double.self)
}

// MARK: MLP (SPEC.md (32))

func checkMLP<T: ReferenceScalar>(_: T.Type) {
    // C = I = 1: Wgate = [2], Wup = [3], Wdown = [0.5], u = [1]:
    // silu(2)·3 = 2/(1 + e^−2)·3; out = 0.5 · that = 3/(1 + e^−2).
    let mlp = MLPWeights<T>(gate: Linear(outFeatures: 1, inFeatures: 1, weight: [2]),
                            up: Linear(outFeatures: 1, inFeatures: 1, weight: [3]),
                            down: Linear(outFeatures: 1, inFeatures: 1, weight: [0.5]))
    expectClose(mlp.apply([1], rows: 1), [3 / (1 + exp(-2.0))], "mlp")
}

@Test func mlpFloatAndDouble() {
    checkMLP(Float.self)
    checkMLP(Double.self)
}
