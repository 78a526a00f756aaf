// The same check from XCTest: XCTAssertMatchesFixture fails at the caller's
// line with the first failing checkpoint, its metrics and the worst element.

import XCTest
import Hxa079Fast
import Hxa079OracleTesting

final class FastEngineXCTests: XCTestCase {
    func testFastEngineMatchesTinyInChunkedPrefill() throws {
        let oracle = try openFixture("tiny")
        let engine = try loadEngine(oracle)
        XCTAssertMatchesFixture(try engineCheckpoints(engine, oracle, plan: "chunked_prefill"),
                                fixture: oracle, plan: "chunked_prefill", requireAllCheckpoints: true)
    }
}
