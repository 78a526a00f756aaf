// Measurements: lets a test print the figure its tolerance is justified by.
//
// Contract: `measured("label", value)` prints `MEASURED label: value` when
// the environment variable HXA079_PRINT_MEASUREMENTS is set, and returns the
// value unchanged. Run `HXA079_PRINT_MEASUREMENTS=1 swift test` to re-derive
// the numbers quoted next to every bound.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@discardableResult
package func measured(_ label: @autoclosure () -> String, _ value: Double) -> Double {
    if getenv("HXA079_PRINT_MEASUREMENTS") != nil { print("MEASURED \(label()): \(value)") }
    return value
}
