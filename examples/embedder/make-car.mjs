// make-car.mjs - packs a bundle folder as a CARv1 file, the form an IPFS trustless gateway serves.
//
// Usage: node make-car.mjs <bundle-folder> <out.car>
// Prints one JSON line: {"cid": "<root CID>", "car": "<out.car>", "car_bytes": N, "blocks": N}
//
// The DAG is what `ipfs add -r --cid-version=1 <bundle-folder>` makes with kubo's defaults for CIDv1
// (raw leaves, 256 KiB fixed-size chunks, balanced layout, 174 links per node), built with
// ipfs-unixfs-importer as tests/vectors/ipfs/make-ipfs-vectors.mjs does. No mtime or mode is stored, so
// the CID depends on the file names and bytes only. Blocks are written depth-first from the root, each
// once (the gateway's order=dfs, dups=n), which is the order the node's CarBundleReader expects.

import { readdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { importer } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";
import { CarWriter } from "@ipld/car";
import * as dagPB from "@ipld/dag-pb";

const [folder, outFile] = process.argv.slice(2);
if (!folder || !outFile) {
  console.error("usage: node make-car.mjs <bundle-folder> <out.car>");
  process.exit(64);
}

// Every regular file under the folder, by relative path, sorted by UTF-8 bytes (the directory order).
function listFiles(root) {
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else if (st.isFile()) files.push(relative(root, full).split(sep).join("/"));
      else throw new Error(`${full} is neither a file nor a folder; a bundle holds only those`);
    }
  };
  walk(root);
  return files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

class MemoryBlockstore {
  constructor() {
    this.blocks = new Map();
  }
  async put(cid, bytes) {
    this.blocks.set(cid.toString(), bytes instanceof Uint8Array ? bytes : Buffer.concat([...bytes]));
    return cid;
  }
  get(cid) {
    const b = this.blocks.get(cid.toString());
    if (!b) throw new Error(`block not found: ${cid}`);
    return b;
  }
  has(cid) {
    return this.blocks.has(cid.toString());
  }
}

const store = new MemoryBlockstore();
const input = listFiles(folder).map((path) => ({ path, content: readFileSync(join(folder, path)) }));
let root;
for await (const entry of importer(input, store, {
  cidVersion: 1,
  rawLeaves: true,
  leafType: "file",
  reduceSingleLeafToSelf: true,
  wrapWithDirectory: true,
  chunker: fixedSize({ chunkSize: 262144 }),
  layout: balanced({ maxChildrenPerNode: 174 }),
})) {
  root = entry.cid; // the wrapping directory comes last
}

// Depth-first pre-order from the root, links in dag-pb order, each block once.
const order = [];
const seen = new Set();
const visit = (cid) => {
  const key = cid.toString();
  if (seen.has(key)) return;
  seen.add(key);
  order.push(cid);
  if (cid.code === dagPB.code) for (const link of dagPB.decode(store.get(cid)).Links) visit(link.Hash);
};
visit(root);

const { writer, out } = CarWriter.create([root]);
const chunks = [];
const drain = (async () => {
  for await (const c of out) chunks.push(c);
})();
for (const cid of order) await writer.put({ cid, bytes: store.get(cid) });
await writer.close();
await drain;
const car = Buffer.concat(chunks);
writeFileSync(outFile, car);
console.log(JSON.stringify({ cid: root.toString(), car: outFile, car_bytes: car.length, blocks: order.length }));
