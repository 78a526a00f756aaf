// StepTerminalTests: an interactive `hxa079 step` session on a
// pseudo-terminal — the prompt appears, `n`, `p` and `q` work, output is
// coloured because stdout is a terminal, and `q` exits 0.

import Foundation
import Testing

@Suite("Step: interactive terminal")
struct StepTerminalTests {
    @Test func stepInteractiveSessionOnAPseudoTerminal() throws {
        let prompt = "(hxa079) "
        let session = try runHxa079InTerminal(
            ["step", "--fixture", stepTinyFixture],
            steps: [(prompt, 1, "n"), (prompt, 2, "p layers.0.norm1 0,0:4"), (prompt, 3, "bogus"), (prompt, 4, "q")])
        #expect(session.missedMarker == nil, "\(session)")
        #expect(session.exitedNormally && session.status == 0, "\(session)")
        let plain = session.output.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
        #expect(plain.contains("h lists the commands"), "\(session)")
        #expect(plain.contains("[1/70] embed  [12, 64] (token, channel)  f64"), "\(session)")
        #expect(plain.contains("(hxa079) n"), "the terminal echoes the command: \(session)")
        #expect(plain.contains("[2/70] layers.0.norm1  [12, 64] (token, channel)  f64  layer 0 RWKV"), "\(session)")
        #expect(plain.contains("layers.0.norm1[0,0:4]  [4] (channel)  f64"), "\(session)")
        #expect(plain.contains("[0, 0:4]"), "\(session)")
        #expect(plain.contains("error: unknown command \"bogus\""), "\(session)")
        #expect(plain.contains("quit at layers.0.norm1 (2 of 70 checkpoints)"), "\(session)")
        #expect(session.output.contains("\u{1B}[1m"), "bold names on a terminal: \(session)")
    }

    @Test func stepPipedOutputHasNoColour() throws {
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--script", "n;q"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(!r.stdout.contains("\u{1B}["), "\(r)")
    }
}
