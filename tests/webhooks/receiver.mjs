// SPDX-License-Identifier: MIT
// A webhook receiver for the tests: listens on 127.0.0.1, verifies every delivery with the
// standardwebhooks library against the secrets in a file (read again for each request), and
// appends what it got to a log, one JSON object a line.
//   node receiver.mjs --port N (0: any) --secrets FILE --log FILE [--fail-first N]
// Prints "listening PORT" once it listens. Answers 503 to the first N deliveries (--fail-first),
// then 204 to a delivery that verifies and 401 to one that does not.
import fs from 'node:fs';
import http from 'node:http';
import {Webhook} from 'standardwebhooks';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) =>
  (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
let failLeft = Number(args['fail-first'] || 0);

// The secret that verifies the delivery (the library accepts any one of its signatures), or null.
function verifiedBy(body, headers) {
  const secrets = JSON.parse(fs.readFileSync(args.secrets, 'utf8'));
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(body, headers);
      return secret;
    } catch { /* Not this one. */ }
  }
  return null;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const by = verifiedBy(body, req.headers);
    const status = failLeft > 0 ? (failLeft--, 503) : by ? 204 : 401;
    let event = null;
    try { event = JSON.parse(body).event?.type ?? null; } catch { /* Recorded as null. */ }
    fs.appendFileSync(args.log, JSON.stringify({
      id: req.headers['webhook-id'] ?? null, timestamp: req.headers['webhook-timestamp'] ?? null,
      signatures: (req.headers['webhook-signature'] ?? '').split(' ').filter(Boolean).length,
      delivery: req.headers['x-hitl-delivery'] ?? null, event, verified: by !== null, by, status,
    }) + '\n');
    res.writeHead(status).end();
  });
});
server.listen(Number(args.port || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
