// The real-pods lane's alert receiver (scripts/cluster-run.sh up): the stack's Alertmanager sends its webhook
// notifications here, on the node's address, through its egress NetworkPolicy (alerting.egressCidrs), as it would to
// an incident tool or a heartbeat service outside the cluster. Keeps the last deliveries in memory; the journeys read
// them with GET /received (endpoints.json `alert_sink`).
// Usage: node scripts/cluster/alert-sink.mjs <address> <port>
import { createServer } from 'node:http';

const [address, port] = process.argv.slice(2);
if (!address || !port) {
  console.error('usage: node scripts/cluster/alert-sink.mjs <address> <port>');
  process.exit(2);
}
const KEEP = 200;
const MAX_BODY = 1 << 20; // Alertmanager's notifications are a few KB; anything larger is refused, not kept.
const received = [];

createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/received') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(received));
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end('expected JSON');
      return;
    }
    received.push({ path: req.url, at: new Date().toISOString(), body });
    if (received.length > KEEP) received.shift();
    console.log(
      `${req.url}: ${body.status} ${body.receiver} ${(body.alerts ?? []).map((a) => a.labels?.alertname).join(',')}`,
    );
    res.end('ok');
  });
}).listen(Number(port), address, () => console.log(`alert sink on ${address}:${port}`));
