#!/usr/bin/env node
// A call-status webhook receiver that checks voxledger's signature, for trying webhooks locally:
//   VOXLEDGER_WEBHOOK_SECRET="$(cat data/webhook-secret)" node examples/webhook-receiver.mjs 9000
// then dial with "statusCallback": {"url": "http://127.0.0.1:9000/status"}.
// It prints each notification, refuses a bad or stale signature with 401, and answers 200 once
// per idempotency key (a repeated delivery is acknowledged again without being processed twice).
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

const secret = process.env.VOXLEDGER_WEBHOOK_SECRET;
if (!secret) {
  console.error('set VOXLEDGER_WEBHOOK_SECRET (voxledger writes it to data/webhook-secret on first use)');
  process.exit(2);
}
const port = Number(process.argv[2] ?? 9000);
const seen = new Set();

function verify(header, body) {
  const parts = Object.fromEntries(String(header ?? '').split(',').map((p) => p.trim().split('=', 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(parts.v1 ?? '')) return false;
  if (Math.abs(Date.now() / 1000 - t) > 300) return false; // replayed or clock skew over 5 min
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(parts.v1, 'hex'));
}

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8'); // the raw bytes, before any JSON parsing
    if (!verify(req.headers['x-voxledger-signature'], body)) {
      res.writeHead(401).end();
      return;
    }
    const key = req.headers['idempotency-key'];
    if (!seen.has(key)) {
      seen.add(key);
      const n = JSON.parse(body);
      console.log(`${n.at} ${n.callId} ${n.status}${n.reasonCode ? ` ${n.reasonCode} (${n.reason})` : ''}${n.botOperationResult ? ` result=${n.botOperationResult}` : ''}`);
    }
    res.writeHead(200).end();
  });
}).listen(port, '127.0.0.1', () => console.log(`webhook receiver on http://127.0.0.1:${port}/status`));
