/** Loki's HTTP query API as the journeys read it: the log lines a LogQL query selects, with their streams' labels. */

export interface LokiLine {
  readonly labels: Readonly<Record<string, string>>;
  readonly line: string;
}

/** The lines of the last hour that `query` (LogQL) selects, oldest first. */
export async function findLogLines(logQuery: string, query: string): Promise<LokiLine[]> {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const q = new URLSearchParams({
    query,
    start: String(nowNs - 3_600_000_000_000n),
    end: String(nowNs),
    limit: '1000',
    direction: 'forward',
  });
  const r = await fetch(`${logQuery}/query_range?${q.toString()}`);
  if (!r.ok) throw new Error(`Loki ${r.status}: ${await r.text()}`);
  const body = (await r.json()) as {
    data: { resultType: string; result: { stream: Record<string, string>; values: [string, string][] }[] };
  };
  if (body.data.resultType !== 'streams') throw new Error(`Loki answered ${body.data.resultType}, not streams`);
  return body.data.result.flatMap((s) => s.values.map(([, line]) => ({ labels: s.stream, line })));
}
