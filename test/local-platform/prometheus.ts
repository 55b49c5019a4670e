/** Prometheus's HTTP API as the journeys read it: what it scrapes, which Alertmanagers it sends to, its rules. */

export interface ScrapeTarget {
  readonly job: string;
  readonly instance: string;
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
  readonly scrapeUrl: string;
}

async function get<T>(metricsQuery: string, path: string): Promise<T> {
  const r = await fetch(`${metricsQuery}/${path}`);
  if (!r.ok) throw new Error(`Prometheus ${r.status} for ${path}: ${await r.text()}`);
  return ((await r.json()) as { data: T }).data;
}

/** Every active scrape target, with the health and error of its last scrape. */
export async function scrapeTargets(metricsQuery: string): Promise<ScrapeTarget[]> {
  const data = await get<{
    activeTargets: {
      labels: Record<string, string>;
      health: ScrapeTarget['health'];
      lastError: string;
      scrapeUrl: string;
    }[];
  }>(metricsQuery, 'targets?state=active');
  return data.activeTargets.map((t) => ({
    job: t.labels.job!,
    instance: t.labels.instance!,
    health: t.health,
    lastError: t.lastError,
    scrapeUrl: t.scrapeUrl,
  }));
}

/** The Alertmanagers Prometheus has discovered and sends alerts to (their API URLs). */
export async function activeAlertmanagers(metricsQuery: string): Promise<string[]> {
  const data = await get<{ activeAlertmanagers: { url: string }[] }>(metricsQuery, 'alertmanagers');
  return data.activeAlertmanagers.map((a) => a.url);
}

/** Each loaded rule: its group, name, and the health of its last evaluation ('ok', 'err' or 'unknown'). */
export async function ruleHealth(
  metricsQuery: string,
): Promise<{ group: string; name: string; health: string; lastError?: string }[]> {
  const data = await get<{ groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] }>(
    metricsQuery,
    'rules',
  );
  return data.groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, ...r })));
}

/** The alerts Prometheus holds as firing, by their labels. */
export async function firingAlerts(metricsQuery: string): Promise<Record<string, string>[]> {
  const data = await get<{ alerts: { labels: Record<string, string>; state: string }[] }>(metricsQuery, 'alerts');
  return data.alerts.filter((a) => a.state === 'firing').map((a) => a.labels);
}

/** The sum of an instant query's samples, or undefined when it has none. */
export async function sumOf(metricsQuery: string, promql: string): Promise<number | undefined> {
  const data = await get<{ result: { value: [number, string] }[] }>(
    metricsQuery,
    `query?query=${encodeURIComponent(promql)}`,
  );
  return data.result.length ? data.result.reduce((n, r) => n + Number(r.value[1]), 0) : undefined;
}
