// FixtureModelTests: how a fixture finds and checks its model through the
// API (`Fixture.modelDirectory`, under `OracleFixture.withModelDirectory` and
// `step --fixture`): the recorded path is relative to the fixture, a model
// elsewhere can be given, a changed model file is refused naming it unless
// the check is overridden, and a fixture made from a model directory
// regenerates byte for byte from its manifest wherever it was moved.

import Testing
import Foundation
import Hxa079
import Hxa079Reference
import Hxa079Fixtures
import SafeTensors

@Suite("a fixture's model")
struct FixtureModelTests {
    /// A fixture of the matrix's first shape at `dir/fx`, made from `dir/models/m`.
    func makeFixture(in dir: String) throws -> Fixture {
        let c = mutantMatrix[0]
        try writeRandomModelDirectory(shape: c.shape, seed: 5, to: dir + "/models/m", dtype: .F32)
        let spec = FixtureSpec(name: "fx", model: .directory(dir + "/models/m"), tokens: c.tokens,
                               plans: SplitPlan.standard(tokens: c.tokens.count, chunkSize: 2), mutants: [.wkvScaleMissing], command: "test")
        _ = try FixtureMaker().make(spec, out: dir + "/fx")
        return try Fixture(path: dir + "/fx")
    }

    @Test func theModelIsFoundRelativeToTheFixtureAndCheckedByHash() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        let fixture = try makeFixture(in: dir)
        #expect(fixture.manifest.model.path == "../models/m")
        #expect(try fixture.modelDirectory(scratch: dir) == dir + "/fx/../models/m")

        // Another model at the same place: refused, naming the file.
        try writeRandomModelDirectory(shape: mutantMatrix[0].shape, seed: 6, to: dir + "/models/m", dtype: .F32)
        #expect { _ = try fixture.modelDirectory(scratch: dir) } throws: { e in
            let text = "\(e)"
            return text.contains("models/m/model.safetensors") && text.contains("SHA-256") && !text.contains("\n")
        }
        #expect(try fixture.modelDirectory(scratch: dir, ignoreModelHash: true) == dir + "/fx/../models/m")

        // The original model elsewhere, given explicitly.
        try writeRandomModelDirectory(shape: mutantMatrix[0].shape, seed: 5, to: dir + "/elsewhere", dtype: .F32)
        #expect(try fixture.modelDirectory(scratch: dir, model: dir + "/elsewhere") == dir + "/elsewhere")
        // A config.json edited by hand is refused too.
        var config = try readFileBytes(dir + "/elsewhere/config.json")
        config.append(UInt8(ascii: " "))
        try writeFileBytes(dir + "/elsewhere/config.json", config)
        #expect { _ = try fixture.modelDirectory(scratch: dir, model: dir + "/elsewhere") } throws: { "\($0)".contains("config.json") }
    }

    @Test func aMovedDirectoryFixtureRegeneratesByteForByteFromItsManifest() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        _ = try makeFixture(in: dir + "/a")
        #expect(rename(dir + "/a", dir + "/b") == 0)
        let moved = try Fixture(path: dir + "/b/fx")
        // Regenerated next to the original (same relative path to the model), from the manifest alone.
        let spec = try FixtureSpec(manifest: moved.manifest, fixtureDirectory: moved.path)
        _ = try FixtureMaker().make(spec, out: dir + "/b/fx2")
        for f in ["manifest.json", "inputs.safetensors", "f64.safetensors", "f32.safetensors", "mutants.safetensors"] {
            #expect(try readFileBytes(dir + "/b/fx/" + f) == readFileBytes(dir + "/b/fx2/" + f), "\(f) differs")
        }
    }
}
