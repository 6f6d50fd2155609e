// Copied to node_modules/heavy/index.js: a dependency the warm standby loads ahead.
globalThis.__heavyLoaded = true;
module.exports = { loadedBy: process.pid };
