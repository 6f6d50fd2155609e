// The app's own code: says whether its dependency was already loaded (by the warm standby's preload).
const preloaded = Boolean(globalThis.__heavyLoaded);
require('heavy');
const http = require('http');
const VERSION = 'v1';
http
  .createServer((req, res) => {
    res.end(`${VERSION} preloaded=${preloaded} node_options=${process.env.NODE_OPTIONS || ''}`);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
