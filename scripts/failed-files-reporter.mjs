// A node:test reporter that writes, one per line, the test files that had a failing test
// (or that failed to run at all). scripts/run-tests.mjs uses it to run those files again.
export default async function* failedFiles(source) {
  const seen = new Set();
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const file = event.data.file;
    if (file && !seen.has(file)) {
      seen.add(file);
      yield `${file}\n`;
    }
  }
}
