// The report's number formatting: 3 significant digits at every magnitude a
// Double can hold, never a trap (the comparison formats values from user files).

import Testing
@testable import Hxa079Fixtures

@Suite("Number formatting")
struct NumberFormattingTests {
    @Test func threeSignificantDigitsAtEveryMagnitude() {
        let cases: [(Double, String)] = [
            (0, "0"), (.nan, "nan"), (.infinity, "inf"), (-.infinity, "-inf"),
            (1, "1.00e+00"), (-2.5, "-2.50e+00"), (9.996, "1.00e+01"), (0.99999, "1.00e+00"), (9.994, "9.99e+00"), (1.234e-5, "1.23e-05"),
            (Double.greatestFiniteMagnitude, "1.80e+308"), (-Double.greatestFiniteMagnitude, "-1.80e+308"),
            (Double.leastNormalMagnitude, "2.23e-308"), (Double.leastNonzeroMagnitude, "4.94e-324"),
        ]
        for (x, text) in cases { #expect(formatNumber(x) == text, "\(x)") }
    }

    @Test func decibelsOfEveryNMSE() {
        let cases: [(Double, String)] = [
            (0, "-inf"), (.nan, "nan"), (-1, "nan"), (.infinity, "inf"), (1, "0"), (1e-12, "-120"),
            (Double.leastNonzeroMagnitude, "-3233"), (Double.greatestFiniteMagnitude, "3083"),
        ]
        for (x, text) in cases { #expect(formatDecibels(x) == text, "\(x)") }
    }
}
