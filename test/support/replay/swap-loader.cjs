// A webpack loader for the replay test: rewrites one workflow source file as a developer
// might, by swapping two marked passages, so the bundle differs from the recorded history.
module.exports = function swapLoader(source) {
  const { first, second } = this.getOptions();
  const a = source.indexOf(first);
  const b = source.indexOf(second);
  if (a < 0 || b < 0 || a + first.length > b) {
    throw new Error(`swap-loader: ${this.resourcePath} no longer holds the two passages in order; update test/replay.test.ts`);
  }
  return source.slice(0, a) + second + source.slice(a + first.length, b) + first + source.slice(b + second.length);
};
