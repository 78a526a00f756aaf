// MalformedModelCorpus: broken safetensors files and model directories, each
// with the specific error it must produce. One definition for the library's
// tests (Tests/Hxa079Tests) and the executable's (`inspect` in Tests/CLITests).
//
// Contract: every entry builds its directory from scratch (a valid corpus
// model, then one defect) and names the problem by
// - `.refused(matcher)`: `ModelDirectory(path:)` throws an `Hxa079Error`
//   accepted by the matcher (the error's case, and for safetensors files the
//   violated rule; ambiguous tensor sets — duplicates, index disagreements,
//   mixed naming schemes — are `.invalidModel` at open), or
// - `.reported`: the directory opens and `validate()` / `load` report it, or
// - `.nonFinite`: only non-finite values; `validate()` lists them, `load` warns.
// In every case `expected` is a substring of the error text naming the
// problem; `hxa079 inspect` must print it on its single stderr line.

import Foundation
import Hxa079
import SafeTensors

package struct CorpusCase: Sendable, CustomStringConvertible {
    package enum Outcome: Sendable {
        case refused(@Sendable (Hxa079Error) -> Bool)
        case reported
        case nonFinite
    }

    package var name: String
    /// Builds the broken model in the given (empty, existing) directory, or
    /// returns the path to inspect instead (for "no such directory").
    package var build: @Sendable (String) throws -> String
    package var outcome: Outcome
    /// Substring of the error / report naming the problem.
    package var expected: String

    package init(name: String, build: @escaping @Sendable (String) throws -> String, outcome: Outcome, expected: String) {
        self.name = name
        self.build = build
        self.outcome = outcome
        self.expected = expected
    }

    /// The entry's name (how a parameterized test shows it).
    package var description: String { name }
}

/// Matches `.safetensors` errors whose root cause satisfies `rule`.
package func safetensorsRule(_ rule: @escaping @Sendable (SafeTensorsError) -> Bool) -> CorpusCase.Outcome {
    .refused { e in
        if case .safetensors(_, let inner) = e { return rule(inner.rootCause) }
        return false
    }
}

/// Matches `.io` errors.
package let ioError: CorpusCase.Outcome = .refused { if case .io = $0 { return true }; return false }
/// Matches `.invalidModel` errors raised when the directory is opened (ambiguous tensor sets).
package let sourceError: CorpusCase.Outcome = .refused { if case .invalidModel = $0 { return true }; return false }
/// Matches `.invalidConfig` errors.
package let configError: CorpusCase.Outcome = .refused { if case .invalidConfig = $0 { return true }; return false }

/// A case on the valid corpus model with `model.safetensors` replaced by raw bytes.
package func rawFileCase(_ name: String, _ bytes: [UInt8], _ outcome: CorpusCase.Outcome, _ expected: String) -> CorpusCase {
    CorpusCase(name: name, build: { dir in
        try writeValidModel(dir)
        try writeBytes(dir + "/model.safetensors", bytes)
        return dir
    }, outcome: outcome, expected: expected)
}

/// A case on the valid corpus model (written with `naming`/`shards`/`dtype`) changed by `edit`.
package func modelCase(_ name: String, naming: TensorNaming = .hf, shards: Int = 1, dtype: DType = .F32,
               _ outcome: CorpusCase.Outcome, _ expected: String,
               _ edit: @escaping @Sendable (String) throws -> Void) -> CorpusCase {
    CorpusCase(name: name, build: { dir in
        try writeValidModel(dir, naming: naming, shards: shards, dtype: dtype)
        try edit(dir)
        return dir
    }, outcome: outcome, expected: expected)
}

/// A valid-JSON header for one F32 tensor "a" of `count` elements at `offsets`.
package func oneTensorHeader(shape: String = "[2]", offsets: String = "[0,8]", dtype: String = "F32", extra: String = "") -> String {
    "{\"a\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)\(extra)}}"
}

package let shard1 = "model-00001-of-00003.safetensors"
package let shard2 = "model-00002-of-00003.safetensors"
package let shard3 = "model-00003-of-00003.safetensors"

package let malformedCorpus: [CorpusCase] = [
    // MARK: safetensors rules, at the directory level
    rawFileCase("empty model.safetensors", [], safetensorsRule { $0 == .fileTooSmall(size: 0) },
                "shorter than the 8-byte header length field"),
    rawFileCase("file of 5 bytes", [1, 2, 3, 4, 5], safetensorsRule { $0 == .fileTooSmall(size: 5) }, "file is 5 bytes"),
    rawFileCase("header length beyond the file", rawSafeTensors(header: oneTensorHeader(), data: [UInt8](repeating: 0, count: 8), declaredLength: 4096),
                safetensorsRule { if case .headerExceedsFile = $0 { return true }; return false }, "exceeds the file size"),
    rawFileCase("header length over 100 MB", rawSafeTensors(header: "{}", declaredLength: 1 << 40),
                safetensorsRule { $0 == .headerTooLarge(length: 1 << 40) }, "exceeds the limit of 100000000 bytes"),
    rawFileCase("header is not JSON", rawSafeTensors(header: "{\"a\" 1}   "),
                safetensorsRule { if case .headerInvalidJSON = $0 { return true }; return false }, "header is not valid JSON"),
    rawFileCase("header does not start with {", rawSafeTensors(header: "[]      "),
                safetensorsRule { $0 == .headerStartInvalid(firstByte: UInt8(ascii: "[")) }, "header must start with '{'"),
    rawFileCase("header is not UTF-8", rawSafeTensors(headerBytes: Array("{\"".utf8) + [0xFF] + Array("\":1}".utf8)),
                safetensorsRule { if case .headerInvalidUTF8 = $0 { return true }; return false }, "not valid UTF-8"),
    rawFileCase("duplicate header keys", rawSafeTensors(
        header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
        data: [UInt8](repeating: 0, count: 8)),
                safetensorsRule { if case .duplicateKey(name: "a", _) = $0 { return true }; return false }, "duplicate header key \"a\""),
    rawFileCase("overlapping tensors", rawSafeTensors(
        header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
        data: [UInt8](repeating: 0, count: 12)),
                safetensorsRule { if case .overlappingTensors = $0 { return true }; return false }, "overlap at data offset 4"),
    rawFileCase("hole between tensors", rawSafeTensors(
        header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
        data: [UInt8](repeating: 0, count: 20)),
                safetensorsRule { $0 == .gapInData(from: 8, to: 12, before: "b") }, "data bytes [8, 12) before tensor \"b\" belong to no tensor"),
    rawFileCase("trailing bytes after the last tensor", rawSafeTensors(header: oneTensorHeader(), data: [UInt8](repeating: 0, count: 12)),
                safetensorsRule { $0 == .trailingData(covered: 8, dataLength: 12) }, "at the end of the file belong to no tensor"),
    rawFileCase("byte count disagrees with the shape", rawSafeTensors(header: oneTensorHeader(shape: "[3]"), data: [UInt8](repeating: 0, count: 8)),
                safetensorsRule { if case .byteCountMismatch(tensor: "a", _, _, expected: 12, actual: 8) = $0 { return true }; return false },
                "needs 12 bytes but data_offsets span 8"),
    rawFileCase("data_offsets past the end (truncated data)", rawSafeTensors(header: oneTensorHeader(shape: "[4]", offsets: "[0,16]"), data: [UInt8](repeating: 0, count: 8)),
                safetensorsRule { if case .offsetsOutOfBounds = $0 { return true }; return false }, "extend beyond the data buffer"),
    rawFileCase("unknown dtype", rawSafeTensors(header: oneTensorHeader(dtype: "F8_E4M3"), data: [UInt8](repeating: 0, count: 8)),
                safetensorsRule { $0 == .unknownDType(tensor: "a", dtype: "F8_E4M3") }, "unsupported dtype F8_E4M3"),
    rawFileCase("negative dimension", rawSafeTensors(header: oneTensorHeader(shape: "[-2]"), data: [UInt8](repeating: 0, count: 8)),
                safetensorsRule { if case .negativeDimension = $0 { return true }; return false }, "shape dimension 0 is negative"),
    rawFileCase("missing data_offsets", rawSafeTensors(header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", data: [UInt8](repeating: 0, count: 8)),
                safetensorsRule { $0 == .missingField(tensor: "a", field: "data_offsets") }, "missing field \"data_offsets\""),
    rawFileCase("unexpected entry field", rawSafeTensors(header: oneTensorHeader(extra: ",\"foo\":1"), data: [UInt8](repeating: 0, count: 8)),
                safetensorsRule { $0 == .unexpectedField(tensor: "a", field: "foo") }, "unexpected field \"foo\""),
    rawFileCase("data_offsets reversed", rawSafeTensors(header: oneTensorHeader(offsets: "[8,0]"), data: [UInt8](repeating: 0, count: 8)),
                safetensorsRule { if case .offsetsReversed = $0 { return true }; return false }, "begin 8 is after end 0"),
    rawFileCase("__metadata__ not an object", rawSafeTensors(header: "{\"__metadata__\":\"x\"}"),
                safetensorsRule { $0 == .metadataNotObject }, "__metadata__ must be an object"),
    rawFileCase("shape overflows", rawSafeTensors(header: oneTensorHeader(shape: "[4294967296,4294967296]"), data: [UInt8](repeating: 0, count: 8)),
                safetensorsRule { $0 == .shapeOverflow(tensor: "a") }, "overflows"),
    CorpusCase(name: "model.safetensors is a directory", build: { dir in
        try writeValidModel(dir)
        try FileManager.default.removeItem(atPath: dir + "/model.safetensors")
        try FileManager.default.createDirectory(atPath: dir + "/model.safetensors", withIntermediateDirectories: false)
        return dir
    }, outcome: safetensorsRule { if case .notARegularFile = $0 { return true }; return false }, expected: "not a regular file"),
    modelCase("truncated shard", shards: 3, safetensorsRule { if case .offsetsOutOfBounds = $0 { return true }; return false }, shard2) { dir in
        let bytes = try readBytes(dir + "/" + shard2)
        try writeBytes(dir + "/" + shard2, Array(bytes.dropLast(16)))
    },

    // MARK: directory and config.json
    CorpusCase(name: "no such directory", build: { dir in dir + "/missing" }, outcome: ioError, expected: "no such model directory"),
    modelCase("no config.json", ioError, "missing config.json") { dir in
        try FileManager.default.removeItem(atPath: dir + "/config.json")
    },
    modelCase("config.json is not JSON", ioError, "config.json: invalid JSON") { dir in
        try writeText(dir + "/config.json", "{\"hidden_size\": 16,}")
    },
    modelCase("config.json has a duplicate key", ioError, "duplicate") { dir in
        try writeText(dir + "/config.json", "{\"hidden_size\": 16, \"hidden_size\": 16}")
    },
    modelCase("config.json is a list", configError, "top level is not a JSON object") { dir in
        try writeText(dir + "/config.json", "[1, 2]")
    },
    modelCase("config.json misses hidden_size", configError, "missing field \"hidden_size\"") { dir in
        try editConfig(dir) { $0.set("hidden_size", nil) }
    },
    modelCase("config.json misses rms_norm_eps", configError, "missing field \"rms_norm_eps\"") { dir in
        try editConfig(dir) { $0.set("rms_norm_eps", nil) }
    },
    modelCase("non-integer num_attention_heads", configError, "field \"num_attention_heads\" is not an integer (got 2.5)") { dir in
        try editConfig(dir) { $0.set("num_attention_heads", .number(2.5)) }
    },
    modelCase("vocab_size given as a string", configError, "field \"vocab_size\" is not an integer") { dir in
        try editConfig(dir) { $0.set("vocab_size", .string("32")) }
    },
    modelCase("rope_scaling present", configError, "rope_scaling must be absent or null") { dir in
        try editConfig(dir) { $0.set("rope_scaling", .object([("type", .string("linear"))])) }
    },
    modelCase("hidden_act not silu", configError, "hidden_act must be \"silu\"") { dir in
        try editConfig(dir) { $0.set("hidden_act", .string("gelu")) }
    },
    modelCase("transformer_layers out of range", configError, "transformer_layers names layer 7, outside 0..<3") { dir in
        try editConfig(dir) { $0.set("transformer_layers", .array([.number(7)])) }
    },
    modelCase("transformer_layers lists a layer twice", configError, "transformer_layers lists layer 2 twice") { dir in
        try editConfig(dir) { $0.set("transformer_layers", .array([.number(2), .number(2)])) }
    },
    modelCase("unknown layer_types entry", configError, "layer_types[2] is \"mamba\"") { dir in
        try editConfig(dir) { $0.set("layer_types", .array([.string("rwkv"), .string("rwkv"), .string("mamba")])) }
    },
    modelCase("head_dim absent and C not divisible by H", configError, "hidden_size (16) is not divisible by num_attention_heads (3)") { dir in
        try editConfig(dir) { $0.set("head_dim", nil); $0.set("num_attention_heads", .number(3)) }
    },
    modelCase("no weights file", ioError, "no model.safetensors and no model.safetensors.index.json") { dir in
        try FileManager.default.removeItem(atPath: dir + "/model.safetensors")
    },
    modelCase("shard index is not JSON", shards: 3, ioError, "model.safetensors.index.json: invalid JSON") { dir in
        try writeText(dir + "/model.safetensors.index.json", "{\"weight_map\": {")
    },
    modelCase("shard index without weight_map", shards: 3, ioError, "has no \"weight_map\" object") { dir in
        try editJSON(dir + "/model.safetensors.index.json") { $0.set("weight_map", nil) }
    },
    modelCase("shard index names a missing file", shards: 3, ioError, "shard named in model.safetensors.index.json is missing") { dir in
        try FileManager.default.removeItem(atPath: dir + "/" + shard3)
    },
    modelCase("shard index entry is a path", shards: 3, ioError, "not a plain file name") { dir in
        try editWeightMap(dir) { map in map[0].1 = .string("../" + shard1) }
    },

    // MARK: reported by validation
    modelCase("KV heads do not divide heads", .reported, "num_key_value_heads (3) does not divide num_attention_heads (2)") { dir in
        try editConfig(dir) { $0.set("num_key_value_heads", .number(3)) }
    },
    modelCase("odd head_dim", .reported, "head_dim (7) must be even") { dir in
        try editConfig(dir) { $0.set("head_dim", .number(7)) }
    },
    modelCase("zero hidden_size", .reported, "hidden_size must be positive, got 0") { dir in
        try editConfig(dir) { $0.set("hidden_size", .number(0)) }
    },
    modelCase("rope_theta missing with RWKV layers", .reported, "rope_theta is missing") { dir in
        try editConfig(dir) { $0.set("rope_theta", nil) }
    },
    modelCase("transformer_layers disagree with the weights", .reported,
              "config.json declares layer map RAR but the weights give RRA (a layer is GQA iff it has q_proj.weight); disagreeing layers: 1, 2") { dir in
        try editConfig(dir) { $0.set("transformer_layers", .array([.number(1)])) }
    },
    modelCase("layer_types disagree with the weights", .reported, "disagreeing layers: 0, 2") { dir in
        try editConfig(dir) {
            $0.set("transformer_layers", nil)
            $0.set("layer_types", .array([.string("attention"), .string("rwkv"), .string("hxa079")]))
        }
    },
    modelCase("weights hold a layer beyond num_hidden_layers", .reported, "the weights hold layer 2 but num_hidden_layers is 2") { dir in
        try editConfig(dir) { $0.set("num_hidden_layers", .number(2)); $0.set("transformer_layers", .array([])) }
    },
    modelCase("layer index far beyond num_hidden_layers", .reported, "the weights hold layer 999999999999 but num_hidden_layers is 3") { dir in
        try editTensors(dir) { $0.append(StoredTensor(name: "model.layers.999999999999.mlp.up_proj.weight", shape: [1], data: .f32([0]))) }
    },
    modelCase("num_hidden_layers absurdly large", .reported, "num_hidden_layers (1000000000000) exceeds the limit 65536") { dir in
        try editConfig(dir) { $0.set("num_hidden_layers", .number(1e12)); $0.set("transformer_layers", nil) }
    },
    modelCase("shard index does not list a tensor", shards: 3, sourceError, "is not listed in model.safetensors.index.json") { dir in
        try editWeightMap(dir) { map in map.removeAll { $0.0 == "model.norm.weight" } }
    },
    modelCase("shard index maps a tensor to the wrong shard", shards: 3, sourceError,
              "model.safetensors.index.json maps model.embed_tokens.weight to \(shard3), which does not hold it") { dir in
        try editWeightMap(dir) { map in map.set("model.embed_tokens.weight", .string(shard3)) }
    },
    modelCase("tensor given twice across shards", shards: 3, sourceError, "tensor model.embed_tokens.weight is given twice") { dir in
        let (first, _) = try readTensors(dir + "/" + shard1)
        let embedding = first[try first.index(of: "model.embed_tokens.weight")]
        try editTensors(dir, file: shard2) { $0.append(embedding) }
    },
    modelCase("tensor given twice across naming schemes", naming: .rwkv, sourceError,
              "tensor model.layers.0.input_layernorm.weight is given twice") { dir in
        try editTensors(dir) { t in
            var copy = t[try t.index(of: "blocks.0.ln1.weight")]
            copy.name = "model.layers.0.input_layernorm.weight"
            t.append(copy)
        }
    },
    modelCase("both naming schemes", sourceError, "both model.embed_tokens.weight (HF-style) and emb.weight (RWKV-style) are present") { dir in
        try editTensors(dir) { t in
            var copy = t[try t.index(of: "model.embed_tokens.weight")]
            copy.name = "emb.weight"
            t.append(copy)
        }
    },
    modelCase("missing tensor", .reported, "missing tensor model.layers.1.mlp.up_proj.weight (expected shape [24, 16])") { dir in
        try editTensors(dir) { try $0.remove("model.layers.1.mlp.up_proj.weight") }
    },
    modelCase("missing tensor, RWKV-style", naming: .rwkv, .reported, "missing tensor blocks.1.ffn.up.weight (expected shape [24, 16])") { dir in
        try editTensors(dir) { try $0.remove("blocks.1.ffn.up.weight") }
    },
    modelCase("missing embedding", .reported, "missing tensor model.embed_tokens.weight") { dir in
        try editTensors(dir) { try $0.remove("model.embed_tokens.weight") }
    },
    modelCase("partial residual gate", .reported, "missing tensor model.layers.1.self_attn.k2") { dir in
        try editTensors(dir) { try $0.remove("model.layers.1.self_attn.k2") }
    },
    modelCase("unexpected tensor", .reported, "unexpected tensor model.layers.0.self_attn.extra") { dir in
        try editTensors(dir) { $0.append(StoredTensor(name: "model.layers.0.self_attn.extra", shape: [2], data: .f32([1, 2]))) }
    },
    modelCase("RWKV-style name in an HF-style checkpoint", .reported, "unexpected tensor blocks.0.att.w0 (an RWKV-style name in an HF-style checkpoint?)") { dir in
        try editTensors(dir) { $0.append(StoredTensor(name: "blocks.0.att.w0", shape: [1, 1, 16], data: .f32([Float](repeating: 0, count: 16)))) }
    },
    modelCase("bias on the head", .reported, "unexpected tensor lm_head.bias") { dir in
        try editTensors(dir) { $0.append(StoredTensor(name: "lm_head.bias", shape: [32], data: .f32([Float](repeating: 0, count: 32)))) }
    },
    modelCase("wrong shape", .reported, "tensor model.layers.0.self_attn.key.weight has shape [16, 8], expected [8, 16]") { dir in
        try editTensors(dir) { t in t[try t.index(of: "model.layers.0.self_attn.key.weight")].shape = [16, 8] }
    },
    modelCase("w0 with the wrong element count", .reported, "(or any shape with 16 elements)") { dir in
        try editTensors(dir) { t in
            let k = try t.index(of: "model.layers.1.self_attn.w0")
            t[k] = StoredTensor(name: t[k].name, shape: [1, 1, 15], data: .f32([Float](repeating: -1, count: 15)))
        }
    },
    modelCase("LoRA rank mismatch between w1 and w2", .reported,
              "LoRA rank mismatch: model.layers.1.self_attn.w1 is [16, 4] (rank 4) but model.layers.1.self_attn.w2 is [3, 16], expected [4, 16]") { dir in
        try editTensors(dir) { t in
            let k = try t.index(of: "model.layers.1.self_attn.w2")
            t[k] = StoredTensor(name: t[k].name, shape: [3, 16], data: .f32([Float](repeating: 0.01, count: 48)))
        }
    },
    modelCase("integer dtype for a weight", .reported, "tensor model.norm.weight has integer dtype I32") { dir in
        try editTensors(dir) { t in t[try t.index(of: "model.norm.weight")].data = .i32([Int32](repeating: 1, count: 16)) }
    },
    modelCase("layer with neither q_proj nor receptance", .reported,
              "layer 1 has neither q_proj.weight (GQA) nor receptance.weight (RWKV)") { dir in
        try editTensors(dir) { try $0.remove("model.layers.1.self_attn.receptance.weight") }
    },
    modelCase("layer with both q_proj and receptance", .reported, "layer 0 has both q_proj.weight (GQA) and receptance.weight (RWKV)") { dir in
        try editTensors(dir) { t in
            var copy = t[try t.index(of: "model.layers.0.self_attn.receptance.weight")]
            copy.name = "model.layers.0.self_attn.q_proj.weight"
            t.append(copy)
        }
    },
    modelCase("tied config with lm_head present", .reported, "config.json sets tie_word_embeddings but lm_head.weight is present") { dir in
        try editConfig(dir) { $0.set("tie_word_embeddings", .bool(true)) }
    },

    // MARK: non-finite values (inspect fails, loaders warn)
    modelCase("NaN in a weight", .nonFinite, "tensor model.layers.1.self_attn.w0 holds 1 non-finite value (first at flat index 3)") { dir in
        try editTensors(dir) { t in
            let k = try t.index(of: "model.layers.1.self_attn.w0")
            guard case .f32(var v) = t[k].data else { throw FixtureError("w0 is not F32") }
            v[3] = .nan
            t[k].data = .f32(v)
        }
    },
    modelCase("Inf in a BF16 embedding", dtype: .BF16, .nonFinite, "tensor model.embed_tokens.weight holds 2 non-finite values (first at flat index 5)") { dir in
        try editTensors(dir) { t in
            let k = try t.index(of: "model.embed_tokens.weight")
            guard case .bf16(var v) = t[k].data else { throw FixtureError("embedding is not BF16") }
            v[5] = 0x7F80  // +Inf
            v[17] = 0xFF80  // -Inf
            t[k].data = .bf16(v)
        }
    },
]

// MARK: several problems at once

/// Problems `writeModelWithManyProblems` plants (prefixes of report lines),
/// besides a non-finite `model.norm.weight`.
package let manyProblemsExpected = [
    "config.json declares layer map ARA", "missing tensor model.layers.0.mlp.gate_proj.weight",
    "tensor model.layers.2.self_attn.o_proj.weight has shape [8, 32], expected [16, 16]",
    "unexpected tensor model.layers.1.self_attn.bogus",
]

/// The valid corpus model in `dir` with four structural problems and an
/// infinite value planted at once (`manyProblemsExpected`).
package func writeModelWithManyProblems(_ dir: String) throws {
    try writeValidModel(dir)
    try editTensors(dir) { t in
        try t.remove("model.layers.0.mlp.gate_proj.weight")
        t[try t.index(of: "model.layers.2.self_attn.o_proj.weight")].shape = [8, 32]
        t.append(StoredTensor(name: "model.layers.1.self_attn.bogus", shape: [1], data: .f32([0])))
        let k = try t.index(of: "model.norm.weight")
        guard case .f32(var v) = t[k].data else { return }
        v[0] = .infinity
        t[k].data = .f32(v)
    }
    try editConfig(dir) { $0.set("transformer_layers", .array([.number(0), .number(2)])) }
}
