// `--tokens-file PATH` (forward, step, fixtures make): the same ids as
// `--tokens`, from a file of integers separated by commas and/or whitespace;
// errors name the line and item; `--tokens` and `--tokens-file` exclude each other.

import Foundation
import Testing
import Hxa079TestSupport

@Suite("--tokens-file")
struct TokensFileTests {
    let tokens = "5,17,200,3,99,42,7,128,64,1,250,33"   // Fixtures/tiny's tokens

    @Test func aFileGivesTheSameRunAsTheList() throws {
        let tmp = try TempDir("tokens-file")
        // Commas, spaces, tabs, CRLF and LF line ends, a trailing comma, blank lines.
        try Data("5, 17 200\t3\r\n99,42\n\n7 128,64,\n1\n250 33\n".utf8).write(to: URL(fileURLWithPath: tmp.sub("t.txt")))
        let model = stepTinyFixture + "/model"
        let a = try runHxa079(["forward", "--model", model, "--tokens", tokens, "--dump", tmp.sub("a.st")])
        let b = try runHxa079(["forward", "--model", model, "--tokens-file", tmp.sub("t.txt"), "--dump", tmp.sub("b.st")])
        #expect(a.exitedNormally && a.status == 0 && b.exitedNormally && b.status == 0, "\(a) \(b)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: tmp.sub("a.st"))) == Data(contentsOf: URL(fileURLWithPath: tmp.sub("b.st"))))

        // step with a fixture: the file's tokens are the fixture's, so its truth applies.
        let s = try runHxa079(["step", "--fixture", stepTinyFixture, "--tokens-file", tmp.sub("t.txt"), "--script", "c"])
        #expect(s.exitedNormally && s.status == 0 && s.stdout.contains("12 tokens"), "\(s)")

        // fixtures make records the ids themselves, not the file.
        let f = try runHxa079(["fixtures", "make", "--preset", "tiny", "--tokens-file", tmp.sub("t.txt"), "--mutants", "none",
                               "--no-standard-plans", "--plan", "one_call:12", "--out", tmp.sub("fx")])
        #expect(f.exitedNormally && f.status == 0, "\(f)")
        let manifest = try String(contentsOfFile: tmp.sub("fx/manifest.json"), encoding: .utf8)
        #expect(manifest.contains("--tokens \(tokens)") && !manifest.contains("t.txt"), "\(manifest.prefix(600))")
    }

    @Test func badFilesAndBadCombinationsAreUsageErrors() throws {
        let tmp = try TempDir("tokens-file-bad")
        func file(_ name: String, _ text: String) throws -> String {
            try Data(text.utf8).write(to: URL(fileURLWithPath: tmp.sub(name))); return tmp.sub(name)
        }
        let model = stepTinyFixture + "/model"
        let cases: [([String], String)] = [
            (["forward", "--model", model, "--tokens-file", try file("a", "1,2\n3 x4 5\n")],
             "line 2, item 2 (\"x4\") is not a token id"),
            (["forward", "--model", model, "--tokens-file", try file("b", "1\n\n 2,-7\n")], "line 3, item 2 (\"-7\") is not a token id"),
            (["forward", "--model", model, "--tokens-file", try file("c", " ,\n\t\n")], "holds no token ids"),
            (["forward", "--model", model, "--tokens-file", tmp.sub("missing")], "--tokens-file: "),
            (["forward", "--model", model, "--tokens", "1", "--tokens-file", try file("d", "1")], "give --tokens or --tokens-file, not both"),
            (["forward", "--model", model], "give --tokens LIST or --tokens-file PATH"),
            (["fixtures", "make", "--preset", "tiny", "--tokens-file", try file("e", "3.5"), "--out", tmp.sub("never")],
             "line 1, item 1 (\"3.5\") is not a token id"),
            (["step", "--model", model], "--tokens is required with --model (or --tokens-file PATH)"),
        ]
        for (args, message) in cases {
            let r = try runHxa079(args)
            #expect(r.exitedNormally && r.status == 64 && r.stderr.contains(message), "\(args): \(r)")
        }
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("never")))
    }
}
