// StreamedFixtureTests: `fixtures make` at real size (issue 17, deliverable 3)
// through the API: the fixture made with the model streamed layer by layer
// is byte for byte the one made with the model held in memory; a checkpoint
// selection keeps exactly the selected checkpoints, with the values and
// budgets of the full fixture, records itself in the manifest and survives
// regeneration from it; the comparison tells a checkpoint left out by the
// selection ("not in this fixture") from a name the model does not have
// ("unknown"), and neither fails; the large-model threshold sits between the
// test presets and one real-size layer.

import Testing
import Hxa079
import Hxa079Reference
@testable import Hxa079Fixtures
import Hxa079TestSupport
import SafeTensors

/// Every file of fixture directory `dir` (no subdirectories), by name.
private func fixtureFiles(_ dir: String) throws -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    for name in try directoryEntries(dir) where name != "model" { out[name] = try readFileBytes(dir + "/" + name) }
    return out
}

@Suite("fixtures make: streamed weights, checkpoint selections, large-model defaults")
struct StreamedFixtureTests {
    /// The medium-ish streaming case (bf16, RWKV naming, 3 shards, tied head,
    /// biases and norms): widths that are not multiples of 16, GQA layers 0 and 3.
    static let model = streamingCases.first { $0.label.hasPrefix("medium-ish bf16") }!
    static let tokens = [7, 3000, 12, 5, 999, 41]

    @Test func aStreamedFixtureIsByteForByteTheInMemoryOne() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        let (directory, keep) = try Self.model.directory(packageRoot: packageRoot)
        defer { _ = keep }
        let spec = FixtureSpec(name: "fx", model: .directory(directory.path), tokens: Self.tokens,
                               plans: SplitPlan.standard(tokens: Self.tokens.count, chunkSize: 4),
                               mutants: [.wkvScaleMissing, .transposedState], command: "test")
        let streamed = FixtureMaker()
        var inMemory = FixtureMaker()
        inMemory.weightsInMemory = true
        _ = try streamed.make(spec, out: dir + "/streamed")
        _ = try inMemory.make(spec, out: dir + "/memory")
        let a = try fixtureFiles(dir + "/streamed"), b = try fixtureFiles(dir + "/memory")
        #expect(a.keys.sorted() == ["f32.safetensors", "f64.safetensors", "inputs.safetensors", "manifest.json", "mutants.safetensors"])
        for (name, bytes) in a { #expect(bytes == b[name], "\(name) differs between streamed and in-memory weights") }
    }

    @Test func aCheckpointSelectionKeepsExactlyTheSelectedCheckpointsOfTheFullFixture() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        let c = mutantMatrix[0]   // 4 layers RRAR
        try writeRandomModelDirectory(shape: c.shape, seed: 5, to: dir + "/m", dtype: .F32)
        let plans = [SplitPlan(name: "one_call", calls: [c.tokens.count]), SplitPlan(name: "two", calls: [2, c.tokens.count - 2])]
        let globs = ["layers.0.*", "layers.*.out", "logits", "state.layers.2.*"]
        _ = try FixtureMaker().make(FixtureSpec(name: "full", model: .directory(dir + "/m"), tokens: c.tokens, plans: plans,
                                                mutants: [], command: "test"), out: dir + "/full")
        _ = try FixtureMaker().make(FixtureSpec(name: "part", model: .directory(dir + "/m"), tokens: c.tokens, plans: plans,
                                                mutants: [], checkpoints: globs, command: "test"), out: dir + "/part")
        let full = try Fixture(path: dir + "/full"), part = try Fixture(path: dir + "/part")
        let expected = full.manifest.checkpoints.map { $0.name }.filter { n in globs.contains { globMatches($0, n) } }
        #expect(part.manifest.checkpoints.map { $0.name } == expected)
        // layers.0.*: norm1 + 14 RWKV leaves + 4 = 19; layers.{1,2,3}.out; logits; state.layers.2.k and .v
        #expect(expected.count == 19 + 3 + 1 + 2, "\(expected)")
        #expect(part.manifest.checkpointSelection == globs && full.manifest.checkpointSelection == nil)
        for name in expected {
            for plan in plans.map({ $0.name }) {
                #expect(try part.truth(plan: plan, name: name) == full.truth(plan: plan, name: name), "\(plan)/\(name)")
                #expect(try part.float32(plan: plan, name: name) == full.float32(plan: plan, name: name), "\(plan)/\(name)")
            }
            #expect(part.manifest.checkpoint(name)?.budget?.tolerance == full.manifest.checkpoint(name)?.budget?.tolerance, "\(name)")
        }
        // The full fixture's manifest has no selection field at all (committed fixtures keep their bytes).
        #expect(!String(decoding: try readFileBytes(dir + "/full/manifest.json"), as: UTF8.self).contains("checkpoint_selection"))

        // Regenerated from its manifest: the same bytes.
        _ = try FixtureMaker().make(try FixtureSpec(manifest: part.manifest, fixtureDirectory: part.path), out: dir + "/again")
        let a = try fixtureFiles(dir + "/part"), b = try fixtureFiles(dir + "/again")
        for (name, bytes) in a { #expect(bytes == b[name], "\(name) differs when regenerated from the manifest") }

        // The full fixture's truth as a candidate, plus a name no model has.
        var candidate = try full.truthTensors(plan: "two")
        candidate["my.extra"] = CandidateTensor(dtype: .F32, shape: [1], values: [0])
        let report = try compare(fixture: part, plan: "two", candidate: candidate)
        #expect(report.passed && report.results.count == expected.count && report.missing.isEmpty)
        #expect(report.unknown == ["my.extra"])
        #expect(report.notInFixture == full.manifest.checkpoints.map { $0.name }.filter { !expected.contains($0) })
        let text = report.text()
        #expect(text.contains("\(report.notInFixture.count) not in this fixture") && text.contains("ALL PASS"), "\(text)")
        #expect(text.contains("not in this fixture (checkpoints of the model outside the fixture's checkpoint selection; not compared): embed"), "\(text)")
        // Against the full fixture the same candidate has nothing outside the fixture.
        let whole = try compare(fixture: full, plan: "two", candidate: candidate)
        #expect(whole.notInFixture.isEmpty && whole.unknown == ["my.extra"] && !whole.text().contains("not in this fixture"))
        // Only unselected checkpoints: nothing compared, and said why.
        let outside = try compare(fixture: part, plan: "two", candidate: ["embed": candidate["embed"]!])
        #expect(!outside.comparable && outside.notInFixture == ["embed"] && outside.unknown.isEmpty)
        #expect(outside.text().contains("NO CHECKPOINT COMPARED") && outside.text().contains("1 of its checkpoints are not in this fixture"))
    }

    @Test func aGlobThatMatchesNothingOrAnEmptySelectionIsRefusedBeforeAnythingIsWritten() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        let c = mutantMatrix[0]
        try writeRandomModelDirectory(shape: c.shape, seed: 5, to: dir + "/m", dtype: .F32)
        for (globs, fragment) in [(["logits", "layers.9.*"], "\"layers.9.*\" matches no checkpoint"), ([], "empty")] {
            let spec = FixtureSpec(name: "fx", model: .directory(dir + "/m"), tokens: c.tokens,
                                   plans: [SplitPlan(name: "one_call", calls: [c.tokens.count])], mutants: [], checkpoints: globs, command: "test")
            #expect { _ = try FixtureMaker().make(spec, out: dir + "/fx") } throws: { "\($0)".contains(fragment) }
            #expect(!fileExists(dir + "/fx/manifest.json"))
        }
        // Two plans of one name are refused too.
        let twice = FixtureSpec(name: "fx", model: .directory(dir + "/m"), tokens: c.tokens,
                                plans: [SplitPlan(name: "p", calls: [c.tokens.count]), SplitPlan(name: "p", calls: [1, c.tokens.count - 1])],
                                mutants: [], command: "test")
        #expect { _ = try FixtureMaker().make(twice, out: dir + "/fx") } throws: { "\($0)".contains("plan p is given twice") }
    }

    @Test func theLargeModelThresholdSeparatesTheTestPresetsFromOneRealSizeLayer() throws {
        func size(_ preset: Preset, layers: Int? = nil) throws -> FixtureModelSize {
            try FixtureSpec.ModelSource.preset(preset, seed: 0, dtype: .BF16, layers: layers, bundle: false).size()
        }
        // Measured from the shapes (no model written): medium 0.22e9, reka with one layer 1.7e9.
        let medium = try size(.medium), reka1 = try size(.reka, layers: 1), reka = try size(.reka)
        #expect(medium.parameters > 200_000_000 && medium.parameters < 250_000_000, "\(medium.parameters)")
        #expect(reka1.parameters > 1_600_000_000 && reka1.parameters < 1_800_000_000, "\(reka1.parameters)")
        #expect(reka.parameters > 20_000_000_000, "\(reka.parameters)")
        #expect(!FixtureDefaults.isLarge(medium) && FixtureDefaults.isLarge(reka1) && FixtureDefaults.isLarge(reka))
        #expect(reka.layerKinds.count == 44 && reka1.layerKinds == [.rwkv])

        // The size of a model directory is read from its headers, and equals the preset's.
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        try writePresetModel(preset: .tiny, seed: 0, dtype: .F32, layers: nil, to: dir + "/m")
        let fromDisk = try FixtureSpec.ModelSource.directory(dir + "/m").size(), fromShape = try size(.tiny)
        #expect(fromDisk.parameters == fromShape.parameters && fromDisk.layerKinds == fromShape.layerKinds)
        #expect { _ = try FixtureSpec.ModelSource.directory(dir + "/none").size() } throws: { "\($0)".contains("no such model directory") }

        // The large-model checkpoints: every checkpoint of the first and last layer, and the spine.
        let globs = FixtureDefaults.largeModelCheckpoints(layers: reka.layerKinds.count)
        #expect(globs == ["embed", "layers.0.*", "layers.43.*", "layers.*.out", "final_norm", "logits",
                          "state.position", "state.layers.0.*", "state.layers.43.*"])
        #expect(unmatchedCheckpointGlobs(globs, layerKinds: reka.layerKinds).isEmpty)
        let names = fixtureCheckpointNames(layerKinds: reka.layerKinds).filter { n in globs.contains { globMatches($0, n) } }
        // layer 0 RWKV: 19 activations; layer 43 GQA: 10; 42 other layers.*.out; embed, final_norm, logits; 4 state tensors.
        #expect(names.count == 19 + 10 + 42 + 3 + 4, "\(names.count)")
        // of 38 · 19 + 6 · 10 + 3 activations and 1 + 38 + 2 · 6 state tensors (SPEC.md §4.6 quotes both counts)
        #expect(fixtureCheckpointNames(layerKinds: reka.layerKinds).count == 836)
        #expect(FixtureDefaults.largeModelCheckpoints(layers: 1) == ["embed", "layers.0.*", "layers.*.out", "final_norm", "logits",
                                                                     "state.position", "state.layers.0.*"])
    }
}
