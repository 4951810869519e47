// make-ipfs-vectors.mjs - independent IPFS test-vector generator for inframind-node.
//
// Builds UnixFS DAGs with the IPFS JavaScript reference libraries
// (ipfs-unixfs-importer, whose output is CID-for-CID compatible with kubo's
// `ipfs add`), packs them into CARv1 files the way a trustless gateway streams
// them, and writes JSON describing every root, every block and the expected
// file tree, plus CID parsing/formatting vectors made with multiformats. The C#
// tests compare against these instead of against the project's own code.
//
// Run:    cd tests/vectors/ipfs && npm ci && node make-ipfs-vectors.mjs
// Verify: cd tests/vectors/ipfs && npm ci && node make-ipfs-vectors.mjs --check
//         (regenerates everything in memory; exit 1 and name the first stale
//          file if any committed output differs - CAR files byte for byte -
//          else print "ipfs vectors up to date")
//
// Deterministic: fixed inputs, no randomness, no clock, no mtime/mode metadata.
//
// CAR block order (all CARs): CARv1, header { version: 1, roots: [root] }, then
// the blocks in depth-first pre-order from the root: a node is written before
// its children, children in the order of the dag-pb Links array (for UnixFS
// directories that is name order by UTF-8 bytes; for files it is content
// order). A block reachable more than once (identical chunks, identical
// subtrees) is written once only, at its first position in that walk - the
// trustless-gateway "order=dfs; dups=n" form. The full walk with repeats is
// listed in bundles.json as dfs_with_duplicates.

import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { importer } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";
import { exporter } from "ipfs-unixfs-exporter";
import { CarWriter, CarReader } from "@ipld/car";
import * as dagPB from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { identity } from "multiformats/hashes/identity";
import * as Digest from "multiformats/hashes/digest";
import * as raw from "multiformats/codecs/raw";
import { varint } from "multiformats";
import { bases } from "multiformats/basics";
import { base32, base32upper } from "multiformats/bases/base32";
import { base58btc } from "multiformats/bases/base58";

const HERE = new URL(".", import.meta.url);
const outPath = (name) => fileURLToPath(new URL(name, HERE));

const DAG_PB = dagPB.code; // 0x70
const RAW = raw.code; // 0x55
const SHA2_256 = sha256.code; // 0x12

// ---------------------------------------------------------------- helpers

function assert(cond, msg) {
  if (!cond) throw new Error("assertion failed: " + msg);
}

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const utf8 = (s) => new TextEncoder().encode(s); // no Unicode normalization: bytes exactly as written
const sha256hex = (bytes) => createHash("sha256").update(bytes).digest("hex"); // node:crypto, not multiformats
const codecName = (code) => ({ [DAG_PB]: "dag-pb", [RAW]: "raw" })[code] ?? `0x${code.toString(16)}`;
const eqBytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

// The content pattern: byte[i] = (i*31 + 7 + seed) & 0xff.
function pattern(len, seed) {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + 7 + seed) & 0xff;
  return b;
}

function pkgVersion(name) {
  return JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, HERE), "utf8")).version;
}

function concat(chunks) {
  return new Uint8Array(Buffer.concat(chunks.map((c) => Buffer.from(c))));
}

// Tiny in-memory blockstore: Map of CID string -> bytes. get() returns a
// generator of chunks because that is the interface-blockstore 7 contract the
// exporter consumes (it collects the chunks with it-to-buffer).
class MemoryBlockstore {
  constructor() {
    this.blocks = new Map();
  }
  async put(cid, bytes) {
    const b = bytes instanceof Uint8Array ? bytes : concat([...bytes]);
    this.blocks.set(cid.toString(), b);
    return cid;
  }
  *get(cid) {
    yield this.getBytes(cid);
  }
  has(cid) {
    return this.blocks.has(cid.toString());
  }
  getBytes(cid) {
    const b = this.blocks.get(cid.toString());
    if (b === undefined) throw new Error(`block not found: ${cid}`);
    return b;
  }
}

// Re-hash a block with node:crypto and compare with its CID's multihash.
function verifyBlock(cid, bytes) {
  assert(cid.multihash.code === SHA2_256, `${cid} is not sha2-256`);
  assert(cid.multihash.size === 32, `${cid} digest is not 32 bytes`);
  assert(hex(cid.multihash.digest) === sha256hex(bytes), `${cid} does not match its bytes`);
  assert(cid.code === DAG_PB || cid.code === RAW, `${cid} has unexpected codec ${cid.code}`);
  if (cid.version === 0) assert(cid.code === DAG_PB, `${cid} v0 but not dag-pb`);
}

function childLinks(cid, bytes) {
  if (cid.code === RAW) return [];
  const node = dagPB.decode(bytes);
  return node.Links.map((l) => l.Hash);
}

// Depth-first pre-order walk from the root, links in Links-array order.
// Returns the unique order (first occurrence only) and the full walk with repeats.
function dfsOrder(root, store) {
  const unique = [];
  const all = [];
  const seen = new Set();
  const visit = (cid) => {
    const key = cid.toString();
    all.push(key);
    if (!seen.has(key)) {
      seen.add(key);
      unique.push(cid);
    }
    for (const child of childLinks(cid, store.getBytes(cid))) visit(child);
  };
  visit(root);
  return { unique, all };
}

// Independent UnixFS reader (dag-pb + ipfs-unixfs only, no exporter): returns the
// expected tree as [{path, type, cid, size, sha256}] in DFS order and the file bytes.
function readTree(root, store) {
  const entries = [];
  const files = new Map();
  const fileBytes = (cid) => {
    const bytes = store.getBytes(cid);
    if (cid.code === RAW) return bytes;
    const node = dagPB.decode(bytes);
    const fs = UnixFS.unmarshal(node.Data);
    assert(fs.type === "file" || fs.type === "raw", `${cid} inside a file is a ${fs.type}`);
    const parts = [];
    if (fs.data) parts.push(fs.data);
    assert(fs.blockSizes.length === node.Links.length, `${cid} blockSizes/Links length mismatch`);
    node.Links.forEach((l, i) => {
      const part = fileBytes(l.Hash);
      assert(BigInt(part.length) === fs.blockSizes[i], `${cid} blockSizes[${i}] != child length`);
      parts.push(part);
    });
    const out = concat(parts);
    if (fs.type === "file") assert(BigInt(out.length) === fs.fileSize(), `${cid} fileSize mismatch`);
    return out;
  };
  const visit = (cid, path) => {
    const bytes = store.getBytes(cid);
    let isDir = false;
    if (cid.code === DAG_PB) {
      const node = dagPB.decode(bytes);
      const fs = UnixFS.unmarshal(node.Data);
      assert(fs.type !== "hamt-sharded-directory" && fs.type !== "symlink", `unexpected ${fs.type}`);
      isDir = fs.type === "directory";
      assert(fs.mtime === undefined && fs._originalMode === 0, `${cid} carries mtime/mode`);
      if (isDir) {
        entries.push({ path, type: "directory", cid: cid.toString(), size: 0 });
        for (const l of node.Links) visit(l.Hash, path === "" ? l.Name : `${path}/${l.Name}`);
        return;
      }
    }
    const content = fileBytes(cid);
    files.set(path, content);
    entries.push({ path, type: "file", cid: cid.toString(), size: content.length, sha256: sha256hex(content) });
  };
  visit(root, "");
  return { entries, files };
}

// Second reader, with ipfs-unixfs-exporter: the tree and bytes it sees.
async function exportTree(root, store) {
  const out = new Map();
  const visit = async (cid, path) => {
    const entry = await exporter(cid, store);
    if (entry.type === "directory") {
      out.set(path, { type: "directory", cid: cid.toString() });
      for await (const child of entry.entries()) {
        await visit(child.cid, path === "" ? child.name : `${path}/${child.name}`);
      }
    } else {
      assert(entry.type === "file" || entry.type === "raw", `exporter says ${entry.type} at ${path}`);
      const chunks = [];
      for await (const c of entry.content()) chunks.push(c);
      out.set(path, { type: "file", cid: cid.toString(), bytes: concat(chunks) });
    }
  };
  await visit(root, "");
  return out;
}

async function writeCar(root, order, store) {
  const { writer, out } = CarWriter.create([root]);
  const chunks = [];
  const drain = (async () => {
    for await (const c of out) chunks.push(c);
  })();
  for (const cid of order) await writer.put({ cid, bytes: store.getBytes(cid) });
  await writer.close();
  await drain;
  return concat(chunks);
}

// Hand-rolled CARv1 section parser (only varint + CID.decodeFirst from
// multiformats), as a check that does not go through @ipld/car.
function parseCarManually(bytes) {
  let off = 0;
  const [hlen, hl] = varint.decode(bytes, off);
  off += hl + hlen;
  const blocks = [];
  while (off < bytes.length) {
    const [len, l] = varint.decode(bytes, off);
    off += l;
    const section = bytes.subarray(off, off + len);
    assert(section.length === len, "truncated CAR section");
    const [cid, rest] = CID.decodeFirst(section);
    blocks.push({ cid, bytes: rest });
    off += len;
  }
  return blocks;
}

// ---------------------------------------------------------------- fixtures

const MODEL_YAML = `name: tiny-embedder
version: 1.0.0
runtime: static
entrypoint: /embed
protocol: stdio
resources:
  cpu: 1
  memory: 256Mi
input_schema:
  type: text
output_schema:
  type: embedding<float>
`;

const README_TEXT = `# tiny-embedder

A tiny test bundle for inframind-node IPFS fetch tests.
Generated by tests/vectors/ipfs/make-ipfs-vectors.mjs.
`;

const text = (path, s) => ({ path, content: utf8(s), source: { text: s } });
const pat = (path, length, seed) => ({ path, content: pattern(length, seed), source: { pattern_seed: seed, length } });

const bundleFiles = () => [
  text("model.yaml", MODEL_YAML),
  pat("container.tar", 600000, 1),
  text("hooks/init.sh", "#!/bin/sh\necho init\n"),
  text("hooks/empty", ""),
  text("README.md", README_TEXT),
];

const KUBO_V0 = { cidVersion: 0, rawLeaves: false, chunkSize: 262144, maxChildrenPerNode: 174 };
const KUBO_V1 = { cidVersion: 1, rawLeaves: true, chunkSize: 262144, maxChildrenPerNode: 174 };

const CARS = [
  {
    file: "bundle-v0.car",
    description: "bundle directory, kubo defaults (CIDv0, dag-pb leaves, 256 KiB chunks, 174 links per node)",
    kubo: "ipfs add -r --cid-version=0 --raw-leaves=false --chunker=size-262144 <dir>",
    wrap: true,
    options: KUBO_V0,
    files: bundleFiles,
  },
  {
    file: "bundle-v1.car",
    description: "same bundle directory as CIDv1 with raw leaves (kubo --cid-version=1)",
    kubo: "ipfs add -r --cid-version=1 --raw-leaves=true --chunker=size-262144 <dir>",
    wrap: true,
    options: KUBO_V1,
    files: bundleFiles,
  },
  {
    file: "chunked-small.car",
    description:
      "directory with one 100000-byte file in 1 KiB chunks, at most 8 links per node: root file node -> 2 -> 13 dag-pb nodes -> 98 raw leaves (the repeating pattern makes most leaves and subtrees identical, so many blocks are shared)",
    kubo: null,
    wrap: true,
    options: { cidVersion: 1, rawLeaves: true, chunkSize: 1024, maxChildrenPerNode: 8 },
    files: () => [pat("big.bin", 100000, 2)],
  },
  {
    file: "chunked-distinct.car",
    description:
      "like chunked-small but 997-byte chunks, so every one of the 101 leaves and every intermediate node is distinct (catches child-order bugs that shared blocks hide): root file node -> 2 -> 13 dag-pb nodes -> 101 raw leaves",
    kubo: null,
    wrap: true,
    options: { cidVersion: 1, rawLeaves: true, chunkSize: 997, maxChildrenPerNode: 8 },
    files: () => [pat("big.bin", 100000, 2)],
  },
  {
    file: "nested.car",
    description: "CIDv0 directories nested 3 deep, small files, one non-ASCII (NFC UTF-8) file name",
    kubo: "ipfs add -r --cid-version=0 --raw-leaves=false --chunker=size-262144 <dir>",
    wrap: true,
    options: KUBO_V0,
    files: () => [
      text("a/b/c/deep.txt", "deep inside a/b/c\n"),
      text("a/top.txt", "top of a\n"),
      text("a/r\u00e9sum\u00e9.txt", "r\u00e9sum\u00e9: non-ASCII name and content\n"),
      text("z.txt", "last entry\n"),
    ],
  },
  {
    file: "single-file.car",
    description: "a bare file (no wrapping directory), 5000 bytes in 1 KiB chunks, CIDv1 raw leaves",
    kubo: "ipfs add --cid-version=1 --raw-leaves=true --chunker=size-1024 <file>",
    wrap: false,
    options: { cidVersion: 1, rawLeaves: true, chunkSize: 1024, maxChildrenPerNode: 174 },
    files: () => [pat("", 5000, 3)],
  },
];

async function importInto(store, spec) {
  const o = spec.options;
  const opts = {
    cidVersion: o.cidVersion,
    rawLeaves: o.rawLeaves,
    leafType: "file",
    reduceSingleLeafToSelf: true,
    wrapWithDirectory: spec.wrap,
    chunker: fixedSize({ chunkSize: o.chunkSize }),
    layout: balanced({ maxChildrenPerNode: o.maxChildrenPerNode }),
  };
  const input = spec.files().map((f) => (spec.wrap ? { path: f.path, content: f.content } : { content: f.content }));
  let last;
  for await (const entry of importer(input, store, opts)) last = entry;
  return last.cid;
}

async function buildCar(spec) {
  const store = new MemoryBlockstore();
  const root = await importInto(store, spec);
  assert(root.version === spec.options.cidVersion, `${spec.file}: root version`);

  const { unique, all } = dfsOrder(root, store);
  assert(unique.length === store.blocks.size, `${spec.file}: ${store.blocks.size - unique.length} unreachable blocks`);
  for (const cid of unique) verifyBlock(cid, store.getBytes(cid));

  const car = await writeCar(root, unique, store);

  // Read the CAR back twice (with @ipld/car and by hand), re-hash every block.
  const reader = await CarReader.fromBytes(car);
  const roots = await reader.getRoots();
  assert(roots.length === 1 && roots[0].equals(root), `${spec.file}: CAR roots`);
  const viaReader = [];
  for await (const { cid, bytes } of reader.blocks()) {
    verifyBlock(cid, bytes);
    viaReader.push(cid.toString());
  }
  const manual = parseCarManually(car);
  manual.forEach(({ cid, bytes }) => verifyBlock(cid, bytes));
  const order = unique.map(String);
  assert(JSON.stringify(viaReader) === JSON.stringify(order), `${spec.file}: CarReader order`);
  assert(JSON.stringify(manual.map((b) => b.cid.toString())) === JSON.stringify(order), `${spec.file}: manual order`);
  const carStore = new MemoryBlockstore();
  for (const { cid, bytes } of manual) await carStore.put(cid, bytes);

  // Expected tree from the CAR's blocks alone, checked three ways: our reader,
  // the exporter, and the bytes that went into the importer.
  const { entries, files } = readTree(root, carStore);
  const exported = await exportTree(root, carStore);
  assert(exported.size === entries.length, `${spec.file}: exporter entry count`);
  for (const e of entries) {
    const x = exported.get(e.path);
    assert(x && x.type === e.type && x.cid === e.cid, `${spec.file}: exporter disagrees at '${e.path}'`);
    if (e.type === "file") assert(eqBytes(x.bytes, files.get(e.path)), `${spec.file}: exporter bytes at '${e.path}'`);
  }
  const inputs = spec.files();
  assert(inputs.length === [...files.keys()].length, `${spec.file}: file count`);
  for (const f of inputs) {
    assert(files.has(f.path), `${spec.file}: missing '${f.path}'`);
    assert(eqBytes(files.get(f.path), f.content), `${spec.file}: bytes differ at '${f.path}'`);
    const e = entries.find((x) => x.path === f.path);
    e.source = f.source;
  }
  // Directory links must be in UTF-8 byte order of their names.
  for (const cid of unique) {
    if (cid.code !== DAG_PB) continue;
    const names = dagPB.decode(carStore.getBytes(cid)).Links.map((l) => Buffer.from(l.Name ?? "", "utf8"));
    for (let i = 1; i < names.length; i++) assert(Buffer.compare(names[i - 1], names[i]) <= 0, "links not sorted");
  }

  return {
    car,
    store: carStore,
    root,
    json: {
      file: spec.file,
      description: spec.description,
      import_options: {
        cid_version: spec.options.cidVersion,
        raw_leaves: spec.options.rawLeaves,
        chunker: `size-${spec.options.chunkSize}`,
        layout: "balanced",
        max_children_per_node: spec.options.maxChildrenPerNode,
        wrap_with_directory: spec.wrap,
        reduce_single_leaf_to_self: true,
      },
      kubo_equivalent: spec.kubo,
      root: root.toString(),
      cid_version: root.version,
      car_size: car.length,
      car_sha256: sha256hex(car),
      block_count: unique.length,
      blocks: order,
      block_codecs: unique.map((c) => codecName(c.code)),
      block_sizes: unique.map((c) => carStore.getBytes(c).length),
      dfs_with_duplicates: all,
      tree: entries,
    },
  };
}

// ---------------------------------------------------------------- kubo anchors

// CIDs that kubo is known to produce; the importer settings used above must
// reproduce them, or the fixtures are not kubo-compatible.
async function checkKuboAnchors() {
  const anchors = [
    [KUBO_V0, new Uint8Array(0), "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"], // empty file
    [KUBO_V0, utf8("hello world\n"), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"], // echo "hello world" | ipfs add
    [KUBO_V1, new Uint8Array(0), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"],
    [KUBO_V1, utf8("hello world"), "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"],
  ];
  for (const [options, content, want] of anchors) {
    const got = await importInto(new MemoryBlockstore(), { options, wrap: false, files: () => [{ content }] });
    assert(got.toString() === want, `kubo anchor: got ${got} want ${want}`);
  }
  let emptyDir;
  for await (const e of importer([{ path: "d" }], new MemoryBlockstore(), { cidVersion: 0, rawLeaves: false })) emptyDir = e.cid;
  assert(emptyDir.toString() === "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn", "kubo anchor: empty directory");
}

// ---------------------------------------------------------------- CID vectors

const anyBase = Object.values(bases)
  .map((b) => b.decoder)
  .reduce((a, b) => a.or(b));

function tryParse(s) {
  try {
    return { ok: true, cid: CID.parse(s, anyBase) };
  } catch (e) {
    return { ok: false, error: e.message };
  }
}

function rawCidVector(name, bytes, stored) {
  const mh = sha256.digest(bytes);
  const cid = CID.createV1(RAW, mh);
  const s32 = cid.toString();
  const s58 = cid.toString(base58btc);
  const s32u = cid.toString(base32upper);
  assert(s32 === cid.toString(base32) && s32.startsWith("b"), "default string is base32");
  assert(hex(mh.digest) === sha256hex(bytes), "multiformats sha256 vs node:crypto");
  for (const s of [s32, s58, s32u]) assert(tryParse(s).ok && tryParse(s).cid.equals(cid), `round trip ${s}`);
  const v = { name, length: bytes.length };
  if (stored === "hex") v.input_hex = hex(bytes);
  else v.input_pattern_seed = stored.seed;
  return {
    ...v,
    multihash_hex: hex(mh.bytes),
    cidv1_base32: s32,
    cidv1_base58btc: s58,
    cidv1_base32upper: s32u,
    cidv1_bytes_hex: hex(cid.bytes),
  };
}

function dagPbCidVector(name, cid) {
  const v0 = cid.toV0();
  const v1 = cid.toV1();
  assert(v0.equals(v1.toV0()) && v1.equals(v0.toV1()), "v0/v1 conversion");
  assert(tryParse(v0.toString()).cid.equals(v0) && tryParse(v1.toString()).cid.equals(v1), "parse round trip");
  assert(eqBytes(v0.bytes, v0.multihash.bytes), "CIDv0 binary is the bare multihash");
  return {
    name,
    cidv0: v0.toString(),
    cidv1_base32: v1.toString(),
    cidv1_base58btc: v1.toString(base58btc),
    multihash_hex: hex(v0.multihash.bytes),
    cidv0_bytes_hex: hex(v0.bytes),
    cidv1_bytes_hex: hex(v1.bytes),
  };
}

function invalidCidVectors(sampleV0) {
  const hello = utf8("hello world");
  const good = CID.createV1(RAW, sha256.digest(hello));
  const goodV0 = sampleV0;
  const b32 = (bytes) => base32.encode(bytes);
  const out = [];
  // malformed: every CID parser must reject these (multiformats does).
  const bad = (input, reason) => {
    const r = tryParse(input);
    assert(!r.ok, `expected parse failure for ${reason}: ${input}`);
    out.push({ input, category: "malformed", reason, multiformats_error: r.error });
  };
  // unsupported: a well-formed CID that multiformats parses, but inframind-node
  // must refuse (it accepts only CIDv0/CIDv1, codecs raw/dag-pb, sha2-256 with a 32-byte digest).
  const unsupported = (cid, reason) => {
    const input = cid.toString();
    const r = tryParse(input);
    assert(r.ok && r.cid.equals(cid), `expected multiformats to parse: ${input}`);
    out.push({
      input,
      category: "unsupported",
      reason,
      parsed: {
        version: cid.version,
        codec: cid.code,
        hash_code: cid.multihash.code,
        digest_length: cid.multihash.size,
      },
    });
  };

  bad("", "empty string");
  bad("!" + good.toString().slice(1), "bad multibase prefix '!' (not in the multibase table)");
  bad(" " + good.toString(), "leading space (not a multibase prefix)");
  bad(good.toString() + "\n", "trailing newline (not a base32 character)");
  bad(goodV0.slice(0, 10) + "0" + goodV0.slice(11), "bad base58 character '0' in CIDv0");
  bad(goodV0.slice(0, 10) + "l" + goodV0.slice(11), "bad base58 character 'l' in CIDv0");
  {
    const z = good.toString(base58btc);
    bad(z.slice(0, 12) + "O" + z.slice(13), "bad base58 character 'O' in base58btc CIDv1");
  }
  {
    const s = good.toString();
    bad(s.slice(0, 12) + "1" + s.slice(13), "bad base32 character '1' in base32 CIDv1");
  }
  bad(b32(good.bytes.subarray(0, good.bytes.length - 4)), "truncated multihash (declares 32 digest bytes, has 28)");
  bad(b32(good.bytes.subarray(0, 4)), "multihash with no digest bytes at all (declares 32)");
  bad(b32(concat([good.bytes, new Uint8Array([0])])), "trailing byte after the multihash");
  // A 'Qm' string of the wrong length: CIDv0 strings are exactly 46 base58btc
  // characters (34 bytes: 0x12 0x20 + 32-byte digest).
  for (const s of [goodV0.slice(0, -1), goodV0 + "1"]) {
    const b = base58btc.baseDecode(s);
    bad(s, `CIDv0 with wrong length: 'Qm' string of ${s.length} characters (must be 46); decodes to ${b.length} bytes starting 0x${hex(b.subarray(0, 2))}, not 0x1220 + 32-byte digest`);
  }
  bad(b32(concat([new Uint8Array([2, RAW]), good.multihash.bytes])), "unsupported CID version 2");
  bad(b32(concat([new Uint8Array([1])])), "CIDv1 with nothing after the version");
  {
    // Built with multiformats, so these are real, well-formed CIDs.
    const d20 = Digest.create(SHA2_256, sha256.digest(hello).digest.subarray(0, 20));
    unsupported(CID.createV1(RAW, d20), "wrong digest length: sha2-256 multihash with a 20-byte digest (must be 32)");
    const sha3 = createHash("sha3-256").update(hello).digest();
    unsupported(CID.createV1(RAW, Digest.create(0x16, new Uint8Array(sha3))), "unsupported hash: sha3-256 (multihash 0x16); only sha2-256 is supported");
    unsupported(CID.createV1(RAW, identity.digest(hello)), "unsupported hash: identity (multihash 0x00, content inlined in the CID)");
    unsupported(CID.createV1(0x71, good.multihash), "unsupported codec: dag-cbor (0x71); only raw and dag-pb are supported");
    unsupported(CID.createV1(0x0f, good.multihash), "unknown codec 0x0f (unassigned in the multicodec table)");
  }
  return out;
}

async function cidVectors(built) {
  const rawInputs = [
    rawCidVector("empty", new Uint8Array(0), "hex"),
    rawCidVector("hello world", utf8("hello world"), "hex"),
    rawCidVector("hello world\\n", utf8("hello world\n"), "hex"),
    rawCidVector("single byte 0x00", new Uint8Array([0]), "hex"),
    rawCidVector("pattern 1 byte seed 0", pattern(1, 0), "hex"),
    rawCidVector("pattern 32 bytes seed 0", pattern(32, 0), "hex"),
    rawCidVector("pattern 1024 bytes seed 0", pattern(1024, 0), { seed: 0 }),
    rawCidVector("pattern 262144 bytes seed 0", pattern(262144, 0), { seed: 0 }),
    rawCidVector("pattern 1048576 bytes seed 0", pattern(1048576, 0), { seed: 0 }),
  ];
  assert(rawInputs[0].cidv1_base32 === "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "empty raw CID");

  const byFile = Object.fromEntries(built.map((b) => [b.json.file, b]));
  const entryCid = (file, path) => CID.parse(byFile[file].json.tree.find((e) => e.path === path).cid);
  const dagPbNodes = [
    dagPbCidVector("bundle-v0.car root directory", byFile["bundle-v0.car"].root),
    dagPbCidVector("bundle-v0.car hooks/ directory", entryCid("bundle-v0.car", "hooks")),
    dagPbCidVector("bundle-v0.car container.tar (3-chunk file root)", entryCid("bundle-v0.car", "container.tar")),
    dagPbCidVector("bundle-v0.car model.yaml (single-block file)", entryCid("bundle-v0.car", "model.yaml")),
    dagPbCidVector("bundle-v0.car hooks/empty (empty file)", entryCid("bundle-v0.car", "hooks/empty")),
    dagPbCidVector("nested.car root directory", byFile["nested.car"].root),
    dagPbCidVector("bundle-v1.car root directory", byFile["bundle-v1.car"].root),
    dagPbCidVector("chunked-small.car big.bin (file root)", entryCid("chunked-small.car", "big.bin")),
  ];
  assert(dagPbNodes[4].cidv0 === "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", "empty file v0");

  return {
    raw_leaf_cids: rawInputs,
    dag_pb_cids: dagPbNodes,
    invalid: invalidCidVectors(byFile["bundle-v0.car"].root.toString()),
  };
}

// ---------------------------------------------------------------- main

async function build() {
  await checkKuboAnchors();
  const built = [];
  for (const spec of CARS) built.push(await buildCar(spec)); // sequential: fixed output order

  const generator =
    `tests/vectors/ipfs/make-ipfs-vectors.mjs with ipfs-unixfs-importer ${pkgVersion("ipfs-unixfs-importer")}, ` +
    `ipfs-unixfs-exporter ${pkgVersion("ipfs-unixfs-exporter")}, @ipld/car ${pkgVersion("@ipld/car")}, ` +
    `@ipld/dag-pb ${pkgVersion("@ipld/dag-pb")}, ipfs-unixfs ${pkgVersion("ipfs-unixfs")}, multiformats ${pkgVersion("multiformats")}`;

  const bundles = {
    generator,
    content_pattern: "pattern files: byte[i] = (i * 31 + 7 + seed) & 0xff for i in [0, length); text files: UTF-8 of source.text",
    car_block_order:
      "CARv1, one root. Blocks in depth-first pre-order from the root (node before its children, children in dag-pb Links order); " +
      "a block reachable more than once is written only at its first position (trustless gateway order=dfs, dups=n). " +
      "dfs_with_duplicates is the same walk with repeats kept.",
    tree_fields:
      "path: '/'-joined names from the root ('' = the root itself); type: file|directory; cid: the entry's node; " +
      "size: content bytes (0 for directories); sha256: hex of the content (files only); source: how to regenerate the content",
    cars: built.map((b) => b.json),
  };
  const cids = { generator, ...(await cidVectors(built)) };

  const outputs = new Map();
  for (const b of built) outputs.set(b.json.file, Buffer.from(b.car));
  outputs.set("bundles.json", Buffer.from(JSON.stringify(bundles, null, 2) + "\n", "utf8"));
  outputs.set("cids.json", Buffer.from(JSON.stringify(cids, null, 2) + "\n", "utf8"));
  return outputs;
}

function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  if (i === n && a.length === b.length) return "identical";
  const line = a.subarray(0, i).toString("latin1").split("\n").length;
  return `byte ${i} (text line ${line}); committed ${a.length} bytes, generated ${b.length} bytes`;
}

const outputs = await build();
if (process.argv.includes("--check")) {
  let stale = 0;
  for (const [name, bytes] of outputs) {
    const p = outPath(name);
    if (!existsSync(p)) {
      console.error(`${name} is missing; run: node make-ipfs-vectors.mjs`);
      stale++;
      continue;
    }
    const committed = readFileSync(p);
    if (!committed.equals(bytes)) {
      console.error(`${name} is out of date; first difference at ${firstDifference(committed, bytes)}`);
      stale++;
    }
  }
  if (stale > 0) process.exit(1);
  console.log("ipfs vectors up to date");
} else {
  for (const [name, bytes] of outputs) {
    writeFileSync(outPath(name), bytes);
    console.log(`wrote ${name} (${bytes.length} bytes)`);
  }
}
