// make-vectors.mjs - independent crypto test-vector generator for inframind-node.
//
// Produces tests/vectors/crypto-vectors.json: Keccak-256 hashes, secp256k1 key ->
// EIP-55 address derivations and EIP-712 typed-data hashes/signatures, computed
// with ethers and @noble/hashes (not with the project's own C# code), so the C#
// tests can compare against an outside implementation.
//
// Run:    cd tests/vectors && npm ci && node make-vectors.mjs
// Verify: cd tests/vectors && npm ci && node make-vectors.mjs --check
//         (regenerates in memory; exit 1 and print the first difference if the
//          committed JSON is stale, else print "vectors up to date")
//
// Everything is deterministic: fixed inputs, no randomness, no clock; ECDSA
// signatures use RFC 6979 nonces (ethers' default), so reruns are byte-identical.

import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ethers } from "ethers";
import { keccak_256 } from "@noble/hashes/sha3.js";

const HERE = new URL(".", import.meta.url);
const OUT_PATH = fileURLToPath(new URL("crypto-vectors.json", HERE));

// secp256k1 group order n.
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const UINT64_MAX = "18446744073709551615";
const ZERO32 = "0x" + "00".repeat(32);
const ZERO_ADDRESS = "0x" + "00".repeat(20);

// ---------------------------------------------------------------- helpers

function assert(cond, msg) {
  if (!cond) throw new Error("assertion failed: " + msg);
}

const hex = (bytes) => ethers.hexlify(bytes); // lowercase, 0x-prefixed
const utf8 = (s) => ethers.toUtf8Bytes(s); // no Unicode normalization: bytes are exactly as written

// Keccak-256 via @noble/hashes, cross-checked against ethers on every call so
// a disagreement between the two libraries can never slip into the vectors.
// Accepts bytes or a 0x hex string (ethers.concat returns hex).
function keccak(data) {
  const bytes = ethers.getBytes(data);
  const h = hex(keccak_256(bytes));
  const e = ethers.keccak256(bytes);
  assert(h === e, `keccak256 mismatch noble=${h} ethers=${e}`);
  return h;
}

// The fill pattern for all length-based keccak inputs: byte[i] = (i*31 + 7) & 0xff.
function pattern(len) {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

function pkgVersion(name) {
  const p = new URL(`node_modules/${name}/package.json`, HERE);
  return JSON.parse(readFileSync(p, "utf8")).version;
}

// ---------------------------------------------------------------- keccak256

function keccakVectors() {
  const out = [];
  const explicit = (name, bytes) => out.push({ name, input: hex(bytes), hash: keccak(bytes) });

  explicit("empty", new Uint8Array(0));
  explicit("abc utf-8", utf8("abc"));
  explicit("single zero byte", new Uint8Array([0]));
  // 136 bytes is the Keccak-256 rate, so 135/136/137 and 271/272/273 straddle
  // one and two block boundaries (padding edge cases); 31/32/33 straddle a word.
  for (const len of [1, 31, 32, 33, 135, 136, 137, 271, 272, 273, 1000, 1024]) {
    explicit(`pattern ${len} bytes`, pattern(len));
  }
  // Large inputs are not stored; the consumer regenerates them from the pattern.
  for (const len of [65536, 1048576]) {
    out.push({ name: `pattern ${len} bytes`, length: len, hash: keccak(pattern(len)) });
  }
  return out;
}

// ---------------------------------------------------------------- addresses

const KEYS = [
  "0x" + "00".repeat(31) + "01",
  "0x" + "00".repeat(31) + "02",
  ethers.toBeHex(N - 1n, 32), // largest valid private key
  keccak(utf8("inframind-vector-key-1")),
  keccak(utf8("inframind-vector-key-2")),
  keccak(utf8("inframind-vector-key-3")),
];

function addressVectors() {
  return KEYS.map((pk) => {
    const sk = new ethers.SigningKey(pk);
    const address = new ethers.Wallet(pk).address;
    // Independent re-derivation: address = last 20 bytes of keccak(X||Y).
    const raw = ethers.getBytes(sk.publicKey).slice(1);
    const own = ethers.getAddress("0x" + keccak(raw).slice(-40));
    assert(own === address, `address mismatch for ${pk}`);
    assert(sk.publicKey.length === 2 + 65 * 2 && sk.publicKey.startsWith("0x04"), "uncompressed key shape");
    assert(sk.compressedPublicKey.length === 2 + 33 * 2, "compressed key shape");
    return {
      private_key: pk,
      public_key_uncompressed: sk.publicKey,
      public_key_compressed: sk.compressedPublicKey,
      address,
    };
  });
}

// ---------------------------------------------------------------- EIP-712

// Field order matters: it is part of the type hash.
const STRUCTS = {
  Job: [
    ["jobId", "string"], ["modelHash", "string"], ["containerUri", "string"],
    ["entrypoint", "string"], ["inputSchema", "string"], ["outputSchema", "string"],
    ["inputHash", "bytes32"], ["deadline", "uint64"], ["node", "address"],
  ],
  Rejection: [
    ["jobId", "string"], ["jobHash", "bytes32"], ["reason", "string"],
    ["node", "address"], ["timestamp", "uint64"],
  ],
  Hello: [
    ["node", "address"], ["region", "string"], ["version", "string"],
    ["capabilitiesHash", "bytes32"], ["timestamp", "uint64"],
  ],
  Receipt: [
    ["jobId", "string"], ["jobHash", "bytes32"], ["modelRef", "string"],
    ["imageDigest", "bytes32"], ["outputHash", "bytes32"], ["status", "string"],
    ["latencyMs", "uint64"], ["startedAt", "uint64"], ["finishedAt", "uint64"],
    ["cpuMs", "uint64"], ["peakMemoryBytes", "uint64"], ["node", "address"],
    ["timestamp", "uint64"],
  ],
  ReceiptBatch: [
    ["root", "bytes32"], ["count", "uint64"], ["fromTimestamp", "uint64"],
    ["toTimestamp", "uint64"], ["node", "address"],
  ],
};
const DOMAIN_FIELDS = [["name", "string"], ["version", "string"], ["chainId", "uint256"]];

// A second, hand-written EIP-712 encoder (flat structs only, which is all we
// use) built on noble keccak, so ethers' TypedDataEncoder is checked too.
function encodeType(name, fields) {
  return `${name}(${fields.map(([f, t]) => `${t} ${f}`).join(",")})`;
}
function encodeValue(type, v) {
  switch (type) {
    case "string": return ethers.getBytes(keccak(utf8(v)));
    case "bytes32": { const b = ethers.getBytes(v); assert(b.length === 32, "bytes32 length"); return b; }
    case "address": return ethers.getBytes(ethers.zeroPadValue(ethers.getAddress(v), 32));
    case "uint64":
    case "uint256": {
      const n = BigInt(v);
      assert(n >= 0n && n < 1n << (type === "uint64" ? 64n : 256n), `${type} out of range: ${v}`);
      return ethers.getBytes(ethers.toBeHex(n, 32));
    }
    default: throw new Error("unsupported type " + type);
  }
}
function ownHashStruct(name, fields, value) {
  const parts = [ethers.getBytes(keccak(utf8(encodeType(name, fields))))];
  for (const [f, t] of fields) parts.push(encodeValue(t, value[f]));
  return keccak(ethers.concat(parts));
}

function lowS(sigHex) {
  const sig = ethers.Signature.from(sigHex);
  assert(BigInt(sig.s) <= N / 2n, "ethers returned high-s");
  assert(sig.v === 27 || sig.v === 28, "v must be 27/28");
  return sig;
}

// The malleable twin: same r, s' = n - s, recovery bit flipped. It recovers the
// same key, which is exactly why a strict verifier must reject it.
function highSTwin(sig) {
  const s2 = N - BigInt(sig.s);
  const v2 = sig.v === 27 ? 28 : 27;
  return ethers.concat([sig.r, ethers.toBeHex(s2, 32), ethers.toBeHex(v2, 1)]);
}

function eip712Case({ name, chainId, primaryType, message, key, extra = {} }) {
  const wallet = new ethers.Wallet(key);
  const domain = { name: "InfraMind", version: "1", chainId };
  const types = { [primaryType]: STRUCTS[primaryType].map(([n, t]) => ({ name: n, type: t })) };

  // Every struct field must be present, and nothing else.
  const names = STRUCTS[primaryType].map(([f]) => f);
  assert(JSON.stringify(Object.keys(message)) === JSON.stringify(names), `${name}: message keys/order`);

  const domainSeparator = ethers.TypedDataEncoder.hashDomain(domain);
  const structHash = ethers.TypedDataEncoder.hashStruct(primaryType, types, message);
  const digest = ethers.TypedDataEncoder.hash(domain, types, message);

  assert(domainSeparator === ownHashStruct("EIP712Domain", DOMAIN_FIELDS, domain), `${name}: domain separator`);
  assert(structHash === ownHashStruct(primaryType, STRUCTS[primaryType], message), `${name}: struct hash`);
  assert(digest === keccak(ethers.concat(["0x1901", domainSeparator, structHash])), `${name}: digest`);

  return wallet.signTypedData(domain, types, message).then((signature) => {
    const sig = lowS(signature);
    const signer = ethers.verifyTypedData(domain, types, message, signature);
    assert(signer === wallet.address, `${name}: recovered signer`);
    assert(ethers.recoverAddress(digest, signature) === wallet.address, `${name}: recover from digest`);
    return {
      name,
      domain,
      domain_separator: domainSeparator,
      primary_type: primaryType,
      message,
      ...extra,
      struct_hash: structHash,
      digest,
      private_key: key,
      signature,
      signer,
      high_s_signature: highSTwin(sig),
    };
  });
}

// Hard-case strings: NFD combining accents are kept decomposed on purpose
// (no normalization), plus emoji (4-byte UTF-8 / surrogate pairs) and CJK.
const UNICODE = "Café\u0301 naïve\u0308 – 推理任务 ✓ 🚀🧠 👩‍💻 Ωμέγα";
// A compact JSON Schema > 300 UTF-8 bytes: long strings must not be truncated.
const LONG_SCHEMA = JSON.stringify({
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    prompt: { type: "string", minLength: 1, maxLength: 8192, description: "Eingabetext / 入力テキスト" },
    temperature: { type: "number", minimum: 0, maximum: 2, default: 0.7 },
    max_tokens: { type: "integer", minimum: 1, maximum: 4096 },
    stop: { type: "array", items: { type: "string" }, maxItems: 4 },
    metadata: { type: "object", additionalProperties: { type: "string" } },
  },
  required: ["prompt", "max_tokens"],
  additionalProperties: false,
});
assert(utf8(LONG_SCHEMA).length > 300, "long schema must exceed 300 bytes");

const LONG_REASON =
  "model rejected: input violates schema – " + "字段缺失 (missing field) 🚫 ".repeat(12) + "end";
assert(utf8(LONG_REASON).length > 300, "long reason must exceed 300 bytes");

async function eip712Vectors() {
  const [A1, A2, AN, K1, K2, K3] = addressVectors().map((a) => a.address);
  const [pk1, pk2, pkN, kk1, kk2, kk3] = KEYS;
  const FF32 = "0x" + "ff".repeat(32);
  const inputText = "Summarize: The quick brown fox jumps over the lazy dog.";
  const jobHash = keccak(utf8("job:a6b4-23fa"));

  const cases = [
    // ---- Job
    {
      name: "Job realistic", chainId: "31337", primaryType: "Job", key: kk1,
      extra: { input_text: inputText },
      message: {
        jobId: "a6b4-23fa",
        modelHash: "QmWx9aLz3kVn8rT2pQe5sJ7yHdF4gBc6mN1oUxR9vKtZwE",
        containerUri: "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/serve:1.4.2",
        entrypoint: "serve.py",
        inputSchema: "text",
        outputSchema: "embedding<float>",
        inputHash: keccak(utf8(inputText)),
        deadline: "1719450000",
        node: K2,
      },
    },
    {
      name: "Job edge: empty strings, zero hash, zero deadline, zero address", chainId: "1", primaryType: "Job", key: pk1,
      message: {
        jobId: "", modelHash: "", containerUri: "", entrypoint: "", inputSchema: "", outputSchema: "",
        inputHash: ZERO32, deadline: "0", node: ZERO_ADDRESS,
      },
    },
    {
      name: "Job hard: unicode, >300-byte schema, uint64 max, large chainId", chainId: "4294967297", primaryType: "Job", key: pkN,
      message: {
        jobId: "job-🚀-推理-e\u0301",
        modelHash: UNICODE,
        containerUri: "oci://registry.example/インフラ/model@sha256:" + "ab".repeat(32),
        entrypoint: "python -c \"print('a\\tb\\n')\" \u0000 end",
        inputSchema: LONG_SCHEMA,
        outputSchema: "tensor<f16>[1,768] – ✓",
        inputHash: FF32,
        deadline: UINT64_MAX,
        node: AN,
      },
    },
    // ---- Rejection
    {
      name: "Rejection realistic", chainId: "31337", primaryType: "Rejection", key: kk2,
      message: { jobId: "a6b4-23fa", jobHash, reason: "deadline already passed", node: K2, timestamp: "1719450123" },
    },
    {
      name: "Rejection edge: empty, zero", chainId: "1", primaryType: "Rejection", key: pk2,
      message: { jobId: "", jobHash: ZERO32, reason: "", node: ZERO_ADDRESS, timestamp: "0" },
    },
    {
      name: "Rejection hard: unicode, >300-byte reason, uint64 max", chainId: "4294967297", primaryType: "Rejection", key: kk3,
      message: { jobId: "拒否-🧠-ñ\u0303", jobHash: FF32, reason: LONG_REASON, node: K3, timestamp: UINT64_MAX },
    },
    // ---- Hello
    {
      name: "Hello realistic", chainId: "31337", primaryType: "Hello", key: kk3,
      message: {
        node: K3, region: "eu-west-1", version: "0.3.1",
        capabilitiesHash: keccak(utf8('{"gpu":"none","cpu":8,"memoryMb":16384}')), timestamp: "1719449000",
      },
    },
    {
      name: "Hello edge: empty, zero", chainId: "1", primaryType: "Hello", key: pk1,
      message: { node: ZERO_ADDRESS, region: "", version: "", capabilitiesHash: ZERO32, timestamp: "0" },
    },
    {
      name: "Hello hard: unicode, >300-byte version, uint64 max", chainId: "4294967297", primaryType: "Hello", key: kk1,
      message: { node: A1, region: UNICODE, version: LONG_SCHEMA, capabilitiesHash: FF32, timestamp: UINT64_MAX },
    },
    // ---- Receipt
    {
      name: "Receipt realistic", chainId: "31337", primaryType: "Receipt", key: kk2,
      message: {
        jobId: "a6b4-23fa", jobHash,
        modelRef: "QmWx9aLz3kVn8rT2pQe5sJ7yHdF4gBc6mN1oUxR9vKtZwE",
        imageDigest: keccak(utf8("sha256:inframind/serve:1.4.2")),
        outputHash: keccak(utf8("[0.12,-0.5,0.33]")),
        status: "completed",
        latencyMs: "1843", startedAt: "1719449100", finishedAt: "1719449102",
        cpuMs: "3620", peakMemoryBytes: "734003200",
        node: K2, timestamp: "1719449102",
      },
    },
    {
      name: "Receipt edge: empty, zero", chainId: "1", primaryType: "Receipt", key: pk2,
      message: {
        jobId: "", jobHash: ZERO32, modelRef: "", imageDigest: ZERO32, outputHash: ZERO32, status: "",
        latencyMs: "0", startedAt: "0", finishedAt: "0", cpuMs: "0", peakMemoryBytes: "0",
        node: ZERO_ADDRESS, timestamp: "0",
      },
    },
    {
      name: "Receipt hard: unicode, >300-byte status, uint64 max everywhere", chainId: "4294967297", primaryType: "Receipt", key: pkN,
      message: {
        jobId: "receipt-👩‍💻-한국어", jobHash: FF32, modelRef: UNICODE,
        imageDigest: FF32, outputHash: keccak(utf8(UNICODE)), status: LONG_REASON,
        latencyMs: UINT64_MAX, startedAt: UINT64_MAX, finishedAt: UINT64_MAX,
        cpuMs: UINT64_MAX, peakMemoryBytes: UINT64_MAX,
        node: A2, timestamp: UINT64_MAX,
      },
    },
    // ---- ReceiptBatch
    {
      name: "ReceiptBatch realistic", chainId: "31337", primaryType: "ReceiptBatch", key: kk3,
      message: {
        root: keccak(utf8("merkle-root:batch-0007")), count: "128",
        fromTimestamp: "1719440000", toTimestamp: "1719449102", node: K3,
      },
    },
    {
      name: "ReceiptBatch edge: zero", chainId: "1", primaryType: "ReceiptBatch", key: pk1,
      message: { root: ZERO32, count: "0", fromTimestamp: "0", toTimestamp: "0", node: ZERO_ADDRESS },
    },
    {
      name: "ReceiptBatch hard: uint64 max, large chainId", chainId: "4294967297", primaryType: "ReceiptBatch", key: kk2,
      message: { root: FF32, count: UINT64_MAX, fromTimestamp: "1", toTimestamp: UINT64_MAX, node: K1 },
    },
  ];

  const out = [];
  for (const c of cases) out.push(await eip712Case(c)); // sequential: keeps output order fixed
  return out;
}

// ---------------------------------------------------------------- main

async function build() {
  const doc = {
    generator: `tests/vectors/make-vectors.mjs with ethers ${ethers.version} and @noble/hashes ${pkgVersion("@noble/hashes")}`,
    keccak256: keccakVectors(),
    addresses: addressVectors(),
    eip712: await eip712Vectors(),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

function firstDifference(a, b) {
  const la = a.split("\n"), lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) {
      return `line ${i + 1}:\n  committed: ${la[i] ?? "<end of file>"}\n  generated: ${lb[i] ?? "<end of file>"}`;
    }
  }
  return "no line difference (encoding/whitespace?)";
}

const text = await build();
if (process.argv.includes("--check")) {
  const committed = existsSync(OUT_PATH) ? readFileSync(OUT_PATH, "utf8") : null;
  if (committed === null) {
    console.error(`${OUT_PATH} is missing; run: node make-vectors.mjs`);
    process.exit(1);
  }
  if (committed !== text) {
    console.error("crypto-vectors.json is out of date; first difference at " + firstDifference(committed, text));
    process.exit(1);
  }
  console.log("vectors up to date");
} else {
  writeFileSync(OUT_PATH, text);
  console.log(`wrote ${OUT_PATH}`);
}
