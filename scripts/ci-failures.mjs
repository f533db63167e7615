#!/usr/bin/env node
// Prints, after all of CI's passes, what each one failed: the passes run side by side and their logs are long, so a
// failure early in one pass would otherwise sit thousands of lines above the end of the output, where readers look.
// Usage: node scripts/ci-failures.mjs <pass name>=<vitest json report> ...
import { existsSync, readFileSync } from 'node:fs';

let failed = 0;
for (const argument of process.argv.slice(2)) {
  const at = argument.indexOf('=');
  const [name, file] = [argument.slice(0, at), argument.slice(at + 1)];
  if (!existsSync(file)) {
    console.log(`== ${name}: no report (${file}): the pass ended before vitest wrote it; its output above says why`);
    failed += 1;
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const failures = [];
  for (const suite of report.testResults ?? []) {
    const cases = (suite.assertionResults ?? []).filter((test) => test.status === 'failed');
    for (const test of cases) failures.push({ file: suite.name, title: test.fullName, messages: test.failureMessages });
    // A file that failed outside any test (an import error, a hook) has no failed case of its own.
    if (cases.length === 0 && suite.status === 'failed')
      failures.push({ file: suite.name, title: '(the file itself)', messages: [suite.message ?? ''] });
  }
  const counts = `${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests} skipped`;
  console.log(`== ${name}: ${counts}${failures.length > 0 ? '; failures:' : ''}`);
  for (const failure of failures) {
    console.log(`-- ${failure.file} > ${failure.title}`);
    const message = (failure.messages ?? []).join('\n').split('\n').slice(0, 25).join('\n');
    console.log(message.replace(/^/gm, '   '));
  }
  failed += failures.length;
}
process.exitCode = failed > 0 ? 1 : 0;
