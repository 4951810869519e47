// Verifies what inframind-node wrote, with the reference libraries only (ethers, @openzeppelin/merkle-tree),
// knowing nothing of the node's code: the contract (CONTRACT.md §7) says any EIP-712 library must agree.
//
// Usage: node verify-receipts.mjs <dir>
//   <dir>/*.receipt.json    a receipt: ethers.verifyTypedData over its eip712 block must recover `node`,
//                          and every top-level field must equal the signed message.
//   <dir>/*.rejection.json  a rejection: the same checks.
//   <dir>/*.batch.json      a batch: StandardMerkleTree.load(dump) must rebuild `root`, every value's proof
//                          must verify, the batch signature must recover `node`, and each receipt found in
//                          <dir> by that node must be a leaf (its EIP-712 digest is the value).
// Prints one line per file and exits 1 on the first kind of failure found (after checking everything).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { ethers } from "ethers";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node verify-receipts.mjs <dir>");
  process.exit(2);
}

let failures = 0;
const fail = (file, why) => {
  failures++;
  console.log(`FAIL ${file}: ${why}`);
};

const snake = (name) => name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());

// Top-level uint64 fields are JSON numbers, which JSON.parse reads as doubles: above 2^53 only the signed
// message's decimal string is exact, so there the top-level value is compared as the double it became.
const sameUint = (top, signed) => Number.isSafeInteger(top) ? BigInt(top) === BigInt(signed) : top === Number(signed);

// ethers wants the types without EIP712Domain; eth_signTypedData_v4 wants it, so the node includes it.
function verifyTyped(file, doc, primaryType) {
  const { domain, types, message } = doc.eip712;
  if (doc.eip712.primaryType !== primaryType) return fail(file, `primaryType ${doc.eip712.primaryType}`), null;
  const { EIP712Domain, ...rest } = types;
  if (!EIP712Domain) return fail(file, "types lack EIP712Domain"), null;
  const signer = ethers.verifyTypedData(domain, rest, message, doc.signature);
  if (signer !== ethers.getAddress(doc.node)) return fail(file, `signature recovers to ${signer}, not ${doc.node}`), null;
  for (const field of rest[primaryType]) {
    const top = doc[snake(field.name)];
    const same = field.type === "address" ? ethers.getAddress(top) === ethers.getAddress(message[field.name])
      : field.type.startsWith("uint") ? sameUint(top, message[field.name])
      : String(top).toLowerCase() === String(message[field.name]).toLowerCase();
    if (!same) return fail(file, `${snake(field.name)} ${top} differs from the signed ${message[field.name]}`), null;
  }
  return ethers.TypedDataEncoder.hash(domain, rest, message);
}

const files = readdirSync(dir).sort();
const receiptDigests = new Map(); // digest -> file
let receipts = 0, rejections = 0, batches = 0;
for (const file of files.filter((f) => f.endsWith(".receipt.json") || f.endsWith(".rejection.json"))) {
  const doc = JSON.parse(readFileSync(join(dir, file), "utf8"));
  const isReceipt = file.endsWith(".receipt.json");
  if (doc.node_id !== doc.node) fail(file, "node_id differs from node");
  const digest = verifyTyped(file, doc, isReceipt ? "Receipt" : "Rejection");
  if (digest === null) continue;
  if (isReceipt) { receipts++; receiptDigests.set(digest, file); } else rejections++;
  console.log(`ok   ${file} signed by ${doc.node}`);
}

for (const file of files.filter((f) => f.endsWith(".batch.json"))) {
  const doc = JSON.parse(readFileSync(join(dir, file), "utf8"));
  let tree;
  try {
    tree = StandardMerkleTree.load(doc.dump);
  } catch (e) {
    fail(file, `StandardMerkleTree.load refused the dump: ${e.message}`);
    continue;
  }
  if (tree.root !== doc.root) { fail(file, `dump root ${tree.root} differs from batch root ${doc.root}`); continue; }
  if (BigInt(doc.count) !== BigInt(tree.length)) { fail(file, `count ${doc.count} but the tree has ${tree.length} values`); continue; }
  let proofsOk = true;
  for (const [i, value] of tree.entries()) {
    if (!StandardMerkleTree.verify(doc.root, ["bytes32"], value, tree.getProof(i))) { fail(file, `proof ${i} does not verify`); proofsOk = false; }
  }
  if (!proofsOk) continue;
  if (verifyTyped(file, doc, "ReceiptBatch") === null) continue;
  if (doc.eip712.message.root !== doc.root) { fail(file, "signed root differs from root"); continue; }
  const leaves = new Set(Array.from(tree.entries(), ([, v]) => v[0]));
  const missing = [...receiptDigests.keys()].filter((d) => !leaves.has(d));
  if (missing.length > 0) { fail(file, `${missing.length} receipts are not leaves of the batch, e.g. ${receiptDigests.get(missing[0])}`); continue; }
  batches++;
  console.log(`ok   ${file}: ${tree.length} leaves, root ${doc.root}, signed by ${doc.node}`);
}

console.log(`${receipts} receipts, ${rejections} rejections, ${batches} batches verified; ${failures} failures`);
process.exit(failures === 0 ? 0 : 1);
