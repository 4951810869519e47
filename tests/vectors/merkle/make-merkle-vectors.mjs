// Merkle-tree vectors for inframind-node, made with the reference library the contract names
// (@openzeppelin/merkle-tree, StandardMerkleTree with leaf encoding ["bytes32"]) and ethers for keccak.
//
// Generate: cd tests/vectors/merkle && npm ci && node make-merkle-vectors.mjs
// Verify:   cd tests/vectors/merkle && npm ci && node make-merkle-vectors.mjs --check
//
// Values are fixed pseudo-random bytes32: value i of tree "n" = keccak256(utf8("inframind-merkle/n/i")).
// One extra tree repeats a value, to pin how equal leaves are ordered (the library's sort is stable).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { ethers } from "ethers";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT_PATH = join(HERE, "merkle-vectors.json");
const ENCODING = ["bytes32"];

function pkgVersion(name) {
  return JSON.parse(readFileSync(join(HERE, "node_modules", name, "package.json"), "utf8")).version;
}

function value(n, i) {
  return ethers.keccak256(ethers.toUtf8Bytes(`inframind-merkle/${n}/${i}`));
}

function treeCase(name, values) {
  const tree = StandardMerkleTree.of(values.map((v) => [v]), ENCODING);
  const proofs = values.map((_, i) => tree.getProof(i));
  // Every proof must verify with the library's own static check before it becomes a vector.
  values.forEach((v, i) => {
    if (!StandardMerkleTree.verify(tree.root, ENCODING, [v], proofs[i])) throw new Error(`proof ${i} of ${name} fails`);
  });
  return {
    name,
    values,
    leaf_hashes: values.map((v) => tree.leafHash([v])),
    root: tree.root,
    // The exact text JSON.stringify gives, which the node's dump must equal byte for byte.
    dump: JSON.stringify(tree.dump()),
    proofs,
  };
}

function build() {
  const trees = [1, 2, 3, 7, 16, 33].map((n) => treeCase(`random-${n}`, Array.from({ length: n }, (_, i) => value(n, i))));
  const a = value("dup", 0), b = value("dup", 1);
  trees.push(treeCase("repeated-value", [a, b, a, value("dup", 2)]));
  const doc = {
    generator: `tests/vectors/merkle/make-merkle-vectors.mjs with @openzeppelin/merkle-tree ${pkgVersion("@openzeppelin/merkle-tree")} and ethers ${ethers.version}`,
    leaf_encoding: ENCODING,
    trees,
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

function firstDifference(a, b) {
  const la = a.split("\n"), lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}:\n  committed: ${la[i] ?? "<end of file>"}\n  generated: ${lb[i] ?? "<end of file>"}`;
  }
  return "no line difference (encoding/whitespace?)";
}

const text = build();
if (process.argv.includes("--check")) {
  const committed = existsSync(OUT_PATH) ? readFileSync(OUT_PATH, "utf8") : null;
  if (committed === null) {
    console.error(`${OUT_PATH} is missing; run: node make-merkle-vectors.mjs`);
    process.exit(1);
  }
  if (committed !== text) {
    console.error("merkle-vectors.json is out of date; first difference at " + firstDifference(committed, text));
    process.exit(1);
  }
  console.log("merkle vectors up to date");
} else {
  writeFileSync(OUT_PATH, text);
  console.log(`wrote ${OUT_PATH}`);
}
