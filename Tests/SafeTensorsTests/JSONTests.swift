// JSONTests.swift — the strict JSON parser and serializer: grammar, duplicate
// keys, nesting limit, numbers, strings and escapes, UTF-8 validation, and
// serializer round trips.
import Testing
@testable import SafeTensors

/// The JSONError thrown when parsing `text`, or nil if it parses.
private func parseError(_ text: String) -> JSONError? {
    do { _ = try JSONValue.parse(text); return nil } catch let e as JSONError { return e } catch { return nil }
}

private func parseError(_ bytes: [UInt8]) -> JSONError? {
    do { _ = try JSONValue.parse(bytes); return nil } catch let e as JSONError { return e } catch { return nil }
}

@Suite struct JSONParseTests {
    @Test func parsesAllValueKindsAndKeepsOrder() throws {
        let v = try JSONValue.parse(#" { "z" : [1, -2.5, true, false, null], "a": {"s": "x"} , "m": [] } "#)
        #expect(v.objectValue?.map(\.0) == ["z", "a", "m"])
        #expect(v["z"] == .array([.number(1), .number(-2.5), .bool(true), .bool(false), .null]))
        #expect(v["a"]?["s"]?.stringValue == "x")
        #expect(v["m"]?.arrayValue?.isEmpty == true)
        #expect(v["missing"] == nil)
        #expect(v["z"]?.arrayValue?[2].boolValue == true)
        #expect(v["z"]?.arrayValue?[4].isNull == true)
        // Scalars are valid documents (RFC 8259).
        #expect(try JSONValue.parse("3") == .number(3))
        #expect(try JSONValue.parse("\t\"s\"\r\n") == .string("s"))
    }

    @Test func rejectsDuplicateKeys() {
        let e = parseError(#"{"a": 1, "b": 2, "a": 3}"#)
        #expect(e?.kind == .duplicateKey("a"))
        #expect(e?.offset == 17)  // the second "a" starts at byte 17
        // Nested objects have their own key sets; the same key in siblings is fine.
        #expect(parseError(#"{"a": {"a": 1}, "b": {"a": 2}}"#) == nil)
        #expect(parseError(#"{"x": {"k": 1, "k": 2}}"#)?.kind == .duplicateKey("k"))
        // Keys that differ only in Unicode normalization are equal Swift
        // strings (é precomposed vs e + combining acute), so also duplicates.
        #expect(parseError("{\"\u{E9}\": 1, \"e\u{301}\": 2}")?.kind == .duplicateKey("\u{E9}"))
    }

    @Test func nestingLimitIs128() {
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(parseError(ok) == nil)
        let deep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        #expect(parseError(deep)?.kind == .depthLimitExceeded)
        #expect(parseError(deep)?.offset == 128)
        let objects = String(repeating: "{\"k\":", count: 129) + "1" + String(repeating: "}", count: 129)
        #expect(parseError(objects)?.kind == .depthLimitExceeded)
        let okObjects = String(repeating: "{\"k\":", count: 128) + "1" + String(repeating: "}", count: 128)
        #expect(parseError(okObjects) == nil)
        // A very deep document fails fast instead of overflowing the stack.
        #expect(parseError(String(repeating: "[", count: 100_000))?.kind == .depthLimitExceeded)
    }

    @Test func numbers() throws {
        #expect(try JSONValue.parse("1e3") == .number(1000))
        #expect(try JSONValue.parse("1E+3") == .number(1000))
        #expect(try JSONValue.parse("25e-1") == .number(2.5))
        #expect(try JSONValue.parse("0.5e-3") == .number(0.0005))
        #expect(try JSONValue.parse("-0.0").doubleValue?.sign == .minus)
        let negZero = try JSONValue.parse("-0")
        #expect(negZero.doubleValue == 0 && negZero.doubleValue?.sign == .minus)
        #expect(negZero.intValue == 0)
        // Large integers are correctly rounded to the nearest Double.
        #expect(try JSONValue.parse("9007199254740993") == .number(9_007_199_254_740_992))
        #expect(try JSONValue.parse("123456789012345678901234567890") == .number(1.2345678901234568e29))
        #expect(try JSONValue.parse("-9223372036854775808").intValue == Int.min)
        #expect(try JSONValue.parse("9223372036854775808").intValue == nil)  // 2^63 > Int.max
        #expect(try JSONValue.parse("3.0").intValue == 3)
        #expect(try JSONValue.parse("3.5").intValue == nil)
        #expect(try JSONValue.parse("1e300").intValue == nil)
        #expect(try JSONValue.parse("1e-400") == .number(0))  // underflow rounds to 0
        #expect(try JSONValue.parse("0.1").doubleValue == 0.1)
        #expect(try JSONValue.parse("2.2250738585072014e-308").doubleValue == .leastNormalMagnitude)
        #expect(parseError("1e400")?.kind == .numberOutOfRange)
        #expect(parseError("-1e400")?.kind == .numberOutOfRange)
        for bad in ["01", "-01", "+1", ".5", "1.", "1.e3", "1e", "1e+", "-", "--1", "0x10", "NaN",
                    "Infinity", "-Infinity", "1_000", "١"] {
            #expect(parseError(bad)?.kind == .syntax || parseError(bad)?.kind == .trailingCharacters,
                    "\(bad) must be rejected")
        }
    }

    @Test func stringsAndEscapes() throws {
        #expect(try JSONValue.parse(#""\u00e9""#) == .string("é"))
        #expect(try JSONValue.parse(#""\u00E9""#) == .string("é"))
        #expect(try JSONValue.parse(#""\ud83d\ude00""#) == .string("😀"))  // surrogate pair → U+1F600
        #expect(try JSONValue.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(try JSONValue.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try JSONValue.parse("\"😀 raw é\"") == .string("😀 raw é"))
        #expect(try JSONValue.parse(#""a\u0041b""#) == .string("aAb"))
        // Unpaired surrogates, bad escapes, raw control characters, unterminated.
        #expect(parseError(#""\ud83d""#)?.kind == .syntax)
        #expect(parseError(#""\ud83d\u0041""#)?.kind == .syntax)
        #expect(parseError(#""\ude00""#)?.kind == .syntax)
        #expect(parseError(#""\ud83dx""#)?.kind == .syntax)
        #expect(parseError(#""\u12""#)?.kind == .syntax)
        #expect(parseError(#""\u12G4""#)?.kind == .syntax)
        #expect(parseError(#""\x41""#)?.kind == .syntax)
        #expect(parseError(#""\'""#)?.kind == .syntax)
        #expect(parseError("\"a\nb\"")?.kind == .syntax)
        #expect(parseError("\"a\u{1F}\"")?.kind == .syntax)
        #expect(parseError(#""abc"#)?.kind == .syntax)
        #expect(parseError(#""abc\"#)?.kind == .syntax)
        #expect(parseError("'single'")?.kind == .syntax)
    }

    @Test func invalidUTF8IsRejectedWithOffset() {
        let cases: [([UInt8], Int)] = [
            ([0x22, 0xC3, 0x28, 0x22], 1),              // lead byte without continuation
            ([0x22, 0x61, 0xC0, 0xAF, 0x22], 2),        // overlong "/"
            ([0x22, 0xE0, 0x80, 0xAF, 0x22], 1),        // overlong 3-byte
            ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),        // encoded surrogate U+D800
            ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),  // U+110000
            ([0x22, 0xF8, 0x88, 0x80, 0x80, 0x80, 0x22], 1),
            ([0x22, 0x80, 0x22], 1),                    // stray continuation
            ([0x22, 0xE2, 0x82], 1),                    // truncated at end of input
            ([0xEF, 0xBB, 0xBF, 0x31], -1),             // BOM: valid UTF-8, but not JSON
        ]
        for (bytes, offset) in cases {
            let e = parseError(bytes)
            if offset >= 0 {
                #expect(e?.kind == .invalidUTF8 && e?.offset == offset, "\(bytes)")
            } else {
                #expect(e?.kind == .syntax && e?.offset == 0, "\(bytes)")
            }
        }
        // Valid multi-byte forms at the range edges are accepted.
        #expect(parseError([0x22, 0xC2, 0x80, 0xDF, 0xBF, 0xE0, 0xA0, 0x80, 0xEF, 0xBF, 0xBF,
                            0xF0, 0x90, 0x80, 0x80, 0xF4, 0x8F, 0xBF, 0xBF, 0x22]) == nil)
    }

    @Test func syntaxErrors() {
        let trailing = parseError("{} x")
        #expect(trailing?.kind == .trailingCharacters && trailing?.offset == 3)
        #expect(parseError("[1] [2]")?.kind == .trailingCharacters)
        for bad in ["", " ", "[1,]", "[,1]", "{,}", #"{"a":1,}"#, #"{"a" 1}"#, #"{a:1}"#, "[1 2]",
                    "tru", "nul", "True", "[", "{", #"{"a":"#, "/* c */ 1", "[1]//", "\u{0B}1"] {
            #expect(parseError(bad) != nil, "\(bad.debugDescription) must be rejected")
        }
        let e = parseError(#"{"a":1,}"#)
        #expect(e?.offset == 7 && e?.kind == .syntax)
        #expect(parseError("[1,]")?.description.hasPrefix("JSON error at byte 3:") == true)
    }
}

@Suite struct JSONSerializeTests {
    @Test func numberFormatting() throws {
        #expect(JSONValue.number(3).serialized() == "3")
        #expect(JSONValue.number(-0.0).serialized() == "-0")
        #expect(JSONValue.number(0).serialized() == "0")
        #expect(JSONValue.number(0.1).serialized() == "0.1")
        #expect(JSONValue.number(1e-5).serialized() == "1e-05")
        #expect(JSONValue.number(1e300).serialized() == "1e+300")
        #expect(JSONValue.number(-123456789).serialized() == "-123456789")
        #expect(JSONValue.number(9_007_199_254_740_991).serialized() == "9007199254740991")
        // At 2^53 integers stop being exact; Swift's description is used.
        #expect(JSONValue.number(9_007_199_254_740_992).serialized() == "9007199254740992.0")
        #expect(JSONValue.number(.nan).serialized() == "null")
        #expect(JSONValue.array([.number(.infinity)]).serialized() == "[null]")
        #expect(throws: JSONError.self) { try JSONValue.number(.infinity).serializedStrict() }
        let e = try? JSONValue.array([1, .number(.nan)]).serializedStrict()
        #expect(e == nil)
        #expect(try JSONValue.array([1, 2.5]).serializedStrict() == "[1,2.5]")
    }

    @Test func stringEscaping() {
        #expect(JSONValue.string("a\"b\\c/d").serialized() == #""a\"b\\c/d""#)
        #expect(JSONValue.string("\n\r\t\u{8}\u{C}\u{1}\u{1F}\u{7F}").serialized()
                == #""\n\r\t\b\f\u0001\u001f"# + "\u{7F}\"")
        #expect(JSONValue.string("é😀").serialized() == "\"é😀\"")
    }

    @Test func compactPrettyAndSorted() {
        let v: JSONValue = ["b": [1, true, .null], "a": ["x": "y"], "e": [], "o": .object([])]
        #expect(v.serialized() == #"{"b":[1,true,null],"a":{"x":"y"},"e":[],"o":{}}"#)
        #expect(v.serialized(sortedKeys: true) == #"{"a":{"x":"y"},"b":[1,true,null],"e":[],"o":{}}"#)
        let pretty = """
        {
          "b": [
            1,
            true,
            null
          ],
          "a": {
            "x": "y"
          },
          "e": [],
          "o": {}
        }
        """
        #expect(v.serialized(pretty: true) == pretty)
    }

    @Test func roundTripsThroughParse() throws {
        let fixed: JSONValue = [
            "name": "hxa\u{0}079 \"q\" \\ 😀",
            "numbers": [0, -0.0, 1, -1, 0.1, 1e-300, .number(.leastNonzeroMagnitude), 1.7976931348623157e308, 123456789012, 0.30000000000000004],
            "nested": [[[["deep": [true, false, .null]]]]],
        ]
        for pretty in [false, true] {
            let text = fixed.serialized(pretty: pretty)
            let back = try JSONValue.parse(text)
            #expect(back == fixed)
            #expect(back.serialized(pretty: pretty) == text)
        }
        // Random documents: parse(serialize(v)) == v, bit-exact numbers.
        var rng = SplitMix64(seed: 79)
        func randomValue(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 4 ? 4 : 6), using: &rng) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &rng))
            case 2:
                var x = Double(bitPattern: rng.next())
                while !x.isFinite { x = Double(bitPattern: rng.next()) }
                return .number(Bool.random(using: &rng) ? x : Double(Int32.random(in: .min ... .max, using: &rng)))
            case 3:
                let scalars = (0..<Int.random(in: 0..<8, using: &rng)).compactMap { _ in
                    Unicode.Scalar(UInt32.random(in: 0..<0x11000, using: &rng))
                }
                return .string(String(String.UnicodeScalarView(scalars)))
            case 4: return .array((0..<Int.random(in: 0..<4, using: &rng)).map { _ in randomValue(depth + 1) })
            default:
                return .object((0..<Int.random(in: 0..<4, using: &rng)).map { k in ("k\(k)", randomValue(depth + 1)) })
            }
        }
        for _ in 0..<500 {
            let v = randomValue(0)
            let back = try JSONValue.parse(v.serialized())
            #expect(back == v)
            #expect(back.serialized() == v.serialized())
        }
    }
}
