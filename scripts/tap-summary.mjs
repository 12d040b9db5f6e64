// Echoes AVA's TAP output and closes with the plain line CI reads: "N passed, N failed, N skipped",
// after the list of what was skipped (each skip's title carries its reason).
import { createInterface } from 'node:readline';
let passed = 0, failed = 0;
const skips = [];
for await (const line of createInterface({ input: process.stdin })) {
  console.log(line);
  if (/^ok \d+ .*# SKIP/.test(line) || /^not ok \d+ .*# TODO/.test(line)) skips.push(line.replace(/^(not )?ok \d+ - /, ''));
  else if (/^ok \d+/.test(line)) passed++;
  else if (/^not ok \d+/.test(line)) failed++;
}
if (skips.length > 0) console.log(`skipped:\n${skips.map(s => `  ${s}`).join('\n')}`);
console.log(`${passed} passed, ${failed} failed, ${skips.length} skipped`);
