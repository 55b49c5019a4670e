import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LOG_TRACE_ID_REGEX } from '../../infra/contract/index.js';
import { selectorLabels } from '../../infra/k8s/labels.js';

/** Jaeger's HTTP query API as the journeys read it: traces and their spans with the service of each. */

const run = promisify(execFile);
/** kubectl's label selector for a component's pods, from the labels the manifests give them. */
const podSelector = (component: string) =>
  Object.entries(selectorLabels(component))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

export interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  readonly references: readonly { refType: string; spanID: string }[];
  readonly tags: readonly { key: string; value: unknown }[];
  readonly service: string;
}

interface JaegerTrace {
  traceID: string;
  spans: (Omit<JaegerSpan, 'service'> & { processID: string })[];
  processes: Record<string, { serviceName: string }>;
}

const withServices = (t: JaegerTrace): JaegerSpan[] =>
  t.spans.map(({ processID, ...s }) => ({ ...s, service: t.processes[processID]!.serviceName }));

/** The traces of `service` (its recent ones, or those whose spans carry every tag in `tags`). */
export async function findTraces(
  query: string,
  service: string,
  tags?: Record<string, string>,
  operation?: string,
): Promise<JaegerSpan[][]> {
  const q = new URLSearchParams({ service, limit: '50', lookback: '1h' });
  if (tags) q.set('tags', JSON.stringify(tags));
  if (operation) q.set('operation', operation);
  const r = await fetch(`${query}/traces?${q.toString()}`);
  if (!r.ok) throw new Error(`Jaeger ${r.status}: ${await r.text()}`);
  return ((await r.json()) as { data: JaegerTrace[] | null }).data?.map(withServices) ?? [];
}

export const tag = (s: JaegerSpan, key: string): unknown => s.tags.find((t) => t.key === key)?.value;
export const parentOf = (s: JaegerSpan): string | undefined =>
  s.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

/**
 * The JSON log lines whose request id is `requestId`, of a local platform process (`gateway-1`, `auth`) or, where
 * the endpoints' `logs` is `kubernetes:<namespace>`, of every pod of that component (`kubectl logs`, with the
 * caller's KUBECONFIG) or, where it is `docker:<project>`, of every container of that Compose service (`docker logs`,
 * with the caller's DOCKER_HOST); a request went to one replica, whichever it was.
 */
export async function logLinesOf(logs: string, process: string, requestId: string): Promise<string[]> {
  const component = process.replace(/-\d+$/, '');
  const [, kind, scope] = /^(kubernetes|docker):(.+)$/.exec(logs) ?? [];
  let text: string;
  if (kind === 'kubernetes') {
    const args = ['-n', scope!, 'logs', '-l', podSelector(component), '--tail=-1', '--max-log-requests=10'];
    text = (await run('kubectl', args, { maxBuffer: 64 << 20 })).stdout;
  } else if (kind === 'docker') {
    const labels = [`com.docker.compose.project=${scope!}`, `com.docker.compose.service=${component}`];
    const ids = (await run('docker', ['ps', '-q', ...labels.flatMap((l) => ['--filter', `label=${l}`])])).stdout;
    const outputs = await Promise.all(
      ids
        .split('\n')
        .filter(Boolean)
        .map((id) => run('docker', ['logs', id], { maxBuffer: 64 << 20 })),
    );
    // The services log to stdout; the engine keeps stderr apart.
    text = outputs.map((o) => `${o.stdout}\n${o.stderr}`).join('\n');
  } else text = readFileSync(join(logs, `${process}.log`), 'utf8');
  return text.split('\n').filter((l) => l.startsWith('{') && (JSON.parse(l) as { reqId?: string }).reqId === requestId);
}

/** The trace id Grafana's Loki link reads from a log line (the contract's regular expression, as provisioned). */
export const linkedTraceId = (line: string): string | undefined => new RegExp(LOG_TRACE_ID_REGEX).exec(line)?.[1];
