// The engine-side workarounds that let Docker Compose run the unchanged Compose files on podman 4.3's Docker API
// (scripts/compose-run.sh, PRISM_TOOLCHAIN=source). A Docker API socket in front of podman's that:
//  - passes every request through, hijacked streams (attach, exec) included;
//  - on container create, gives podman an exec-form health check whose arguments contain spaces as the same
//    command in CMD-SHELL form, each argument single-quoted: podman 4.3 joins the exec form with spaces and splits
//    it again on whitespace, so `node -e "fetch(...)"` would run as broken words. (The images that have such
//    checks have /bin/sh.)
//  - runs the health checks, which podman runs only through systemd timers (PID 1 here is not systemd): every
//    running container with a check is checked at its interval through libpod's healthcheck endpoint, which
//    records the result where Compose reads it (State.Health).
//  - names each container's networks by ID in container lists and inspections (NetworkSettings.Networks[].NetworkID):
//    podman 4.3 puts the network's name there, which Compose compares with the IDs, so every `up` with the stack
//    running found each container "not connected" and recreated it (Consul three times in one compose-run up, the
//    services with it, leaving their stale registrations in Consul).
// Usage: node scripts/compose-engine.mjs <listen socket> <podman socket>
import { rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const [listen, upstream] = process.argv.slice(2);
if (!listen || !upstream) {
  console.error('usage: compose-engine.mjs <listen socket> <podman socket>');
  process.exit(2);
}

const quote = (s) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Docker's exec form, safe for podman 4.3: CMD-SHELL with quoted words when a word would be split. */
function healthcheckForPodman(test) {
  if (!Array.isArray(test) || test[0] !== 'CMD' || !test.slice(1).some((a) => /\s/.test(a))) return test;
  return ['CMD-SHELL', test.slice(1).map(quote).join(' ')];
}

function forward(req, res, body) {
  const headers = { ...req.headers };
  if (body) headers['content-length'] = String(body.length);
  const up = http.request({ socketPath: upstream, method: req.method, path: req.url, headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    // At once: a client may wait for the headers of a long poll (container wait) before its next request.
    res.flushHeaders();
    r.pipe(res);
  });
  up.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`compose-engine: ${e.message}`);
  });
  if (body) up.end(body);
  else req.pipe(up);
}

let networkIds = new Map(); // network name -> ID
async function networkId(name) {
  if (!networkIds.has(name)) {
    const list = JSON.parse((await api('GET', '/v1.41/networks')).body);
    networkIds = new Map(list.map((n) => [n.Name, n.Id]));
  }
  return networkIds.get(name) ?? name;
}
/** A container summary or inspection with NetworkID as Docker gives it: the network's ID, not its name. */
async function withNetworkIds(c) {
  for (const settings of Object.values(c?.NetworkSettings?.Networks ?? {})) {
    if (settings?.NetworkID && !/^[0-9a-f]{64}$/.test(settings.NetworkID))
      settings.NetworkID = await networkId(settings.NetworkID);
  }
  return c;
}
/** Answers a GET with podman's JSON body rewritten by `fix` (a body that is not JSON passes as it is). */
function rewriteJson(req, res, fix) {
  const up = http.request({ socketPath: upstream, method: req.method, path: req.url, headers: req.headers }, (r) => {
    const chunks = [];
    r.on('data', (c) => chunks.push(c));
    r.on('end', async () => {
      let body = Buffer.concat(chunks);
      const headers = { ...r.headers };
      try {
        if (r.statusCode === 200) body = Buffer.from(JSON.stringify(await fix(JSON.parse(body.toString('utf8')))));
      } catch {
        // As podman sent it.
      }
      delete headers['transfer-encoding'];
      headers['content-length'] = String(body.length);
      res.writeHead(r.statusCode ?? 502, headers);
      res.end(body);
    });
  });
  up.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`compose-engine: ${e.message}`);
  });
  up.end();
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0];
  if (req.method === 'GET' && /^(\/v[\d.]+)?\/containers\/json$/.test(path)) {
    networkIds = new Map(); // networks are recreated under the same names: asked anew per answer
    rewriteJson(req, res, async (list) => Promise.all(list.map(withNetworkIds)));
    return;
  }
  if (req.method === 'GET' && /^(\/v[\d.]+)?\/containers\/[^/]+\/json$/.test(path)) {
    networkIds = new Map();
    rewriteJson(req, res, withNetworkIds);
    return;
  }
  if (req.method === 'POST' && /\/containers\/create(\?|$)/.test(req.url ?? '')) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      try {
        const spec = JSON.parse(body.toString('utf8'));
        if (spec.Healthcheck?.Test) {
          spec.Healthcheck.Test = healthcheckForPodman(spec.Healthcheck.Test);
          body = Buffer.from(JSON.stringify(spec));
        }
      } catch {
        // Not JSON: podman answers it.
      }
      forward(req, res, body);
    });
    return;
  }
  forward(req, res);
});

// Hijacked streams (docker attach, exec start): the request head, then raw bytes both ways.
server.on('upgrade', (req, socket, head) => {
  const up = net.connect(upstream, () => {
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    up.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  const close = () => (up.destroy(), socket.destroy());
  up.on('error', close);
  socket.on('error', close);
});

function api(method, path) {
  return new Promise((resolve, reject) => {
    const r = http.request({ socketPath: upstream, method, path }, (res) => {
      let s = '';
      res.on('data', (d) => (s += d));
      res.on('end', () => resolve({ status: res.statusCode, body: s }));
    });
    r.on('error', reject);
    r.setTimeout(120_000, () => r.destroy(new Error('timeout')));
    r.end();
  });
}

const checks = new Map(); // container id -> { interval ms, due, running }
async function healthLoop() {
  try {
    const list = JSON.parse((await api('GET', '/v1.41/containers/json')).body);
    const ids = new Set(list.map((c) => c.Id));
    for (const id of checks.keys()) if (!ids.has(id)) checks.delete(id);
    for (const c of list) {
      if (!checks.has(c.Id)) {
        const hc = JSON.parse((await api('GET', `/v1.41/containers/${c.Id}/json`)).body).Config?.Healthcheck;
        const none = !hc?.Test?.length || hc.Test[0] === 'NONE';
        checks.set(c.Id, none ? null : { interval: Math.max(1000, (hc.Interval || 30e9) / 1e6), due: 0, busy: false });
      }
      const check = checks.get(c.Id);
      if (!check || check.busy || Date.now() < check.due) continue;
      check.busy = true;
      check.due = Date.now() + check.interval;
      api('GET', `/v4.0.0/libpod/containers/${c.Id}/healthcheck`)
        .catch(() => {})
        .finally(() => (check.busy = false));
    }
  } catch (e) {
    console.error(`compose-engine: health loop: ${e.message}`);
  }
  setTimeout(healthLoop, 1000);
}

rmSync(listen, { force: true });
server.listen(listen, () => {
  console.error(`compose-engine: ${listen} -> ${upstream}`);
  void healthLoop();
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
