// Echoes AVA's TAP output and closes with the plain line CI reads: "N passed, N failed, N skipped".
import { createInterface } from 'node:readline';
let passed = 0, failed = 0, skipped = 0;
for await (const line of createInterface({ input: process.stdin })) {
  console.log(line);
  if (/^ok \d+ .*# SKIP/.test(line)) skipped++;
  else if (/^ok \d+/.test(line)) passed++;
  else if (/^not ok \d+ .*# TODO/.test(line)) skipped++;
  else if (/^not ok \d+/.test(line)) failed++;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
