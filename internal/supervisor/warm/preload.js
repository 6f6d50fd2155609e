// devstack's warm standby for Node (loaded with --require through NODE_OPTIONS). It requires the
// package's dependencies (those installed in node_modules), then blocks until devstack writes to DEVSTACK_WARM_FIFO after a reload's
// build; the process then goes on to load the app's own (new) code. A dependency whose name has an
// @opentelemetry/instrumentation-<name> in the dependencies is left for the app, so the SDK patches it
// when the app requires it.
'use strict';
(function warmStandby() {
  const fifo = process.env.DEVSTACK_WARM_FIFO;
  if (!fifo) return;
  delete process.env.DEVSTACK_WARM_FIFO; // child processes start cold
  const fs = require('fs');
  const path = require('path');
  const { createRequire } = require('module');
  try {
    fs.writeFileSync(fifo + '.hello', String(process.pid));
  } catch {}
  try {
    const manifest = path.join(process.cwd(), 'package.json');
    const deps = Object.keys(JSON.parse(fs.readFileSync(manifest, 'utf8')).dependencies || {});
    const prefix = '@opentelemetry/instrumentation-';
    const instrumented = new Set(deps.filter((d) => d.startsWith(prefix)).map((d) => d.slice(prefix.length)));
    const req = createRequire(manifest);
    for (const d of deps) {
      if (instrumented.has(d) || instrumented.has(d.replace(/^@[^/]+\//, ''))) continue;
      try {
        // a workspace or file: dependency links to source code that a reload may change: left for the app
        if (!fs.realpathSync(req.resolve(d)).includes(`${path.sep}node_modules${path.sep}`)) continue;
        req(d);
      } catch {}
    }
  } catch {}
  // Blocks until devstack opens the FIFO, writes the go message and closes it.
  const msg = JSON.parse(fs.readFileSync(fifo, 'utf8') || '{}');
  for (const [k, v] of Object.entries(msg.env || {})) {
    if (v === null) delete process.env[k];
    else process.env[k] = v;
  }
})();
