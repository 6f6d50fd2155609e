// What the Node drivers (driver.mjs, registry.mjs) share: flags, kafkajs logging and the RESULT line.
import process from 'node:process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { logLevel } = require('kafkajs');

// parseFlags reads --name value pairs into an object (values are strings).
export function parseFlags(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    if (argv[i + 1] === undefined) throw new Error(`flag ${a} needs a value`);
    args[a.slice(2)] = argv[i + 1];
  }
  return args;
}

// Every kafkajs log line goes to stderr so stdout stays for the result.
export const logCreator = () => ({ namespace, level, log }) => {
  const { message, ...rest } = log;
  process.stderr.write(`kafkajs ${logLevel[level] ?? level} [${namespace}] ${message} ${JSON.stringify(rest)}\n`);
};

// report runs main and prints what it returns as the RESULT line (exit 0), or {"error": ...} (exit 1).
export function report(main) {
  main().then(
    (res) => {
      process.stdout.write(`RESULT ${JSON.stringify(res)}\n`);
      process.exit(0);
    },
    (err) => {
      process.stdout.write(`RESULT ${JSON.stringify({ error: String(err && err.stack ? err.stack : err) })}\n`);
      process.exit(1);
    },
  );
}
