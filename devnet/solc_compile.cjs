'use strict';
// Reads a solc standard-JSON input on stdin and writes {"version", "output"} on stdout.
// Runs with devnet/ as the module root so `solc` is the pinned solc-js from package-lock.json.
const solc = require('solc');

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const input = Buffer.concat(chunks).toString('utf8');
  const output = JSON.parse(solc.compile(input));
  process.stdout.write(JSON.stringify({ version: solc.version(), output }));
});
