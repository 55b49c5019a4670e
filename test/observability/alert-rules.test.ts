import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { bytes } from '../../infra/config/index.js';
import { WATCHDOG_ALERT } from '../../infra/model/files/alertmanager.js';
import { RULES_FILE, STORE_THRESHOLDS } from '../../infra/model/files/prometheus.js';
import { find, synth } from '../support/synth.js';

/**
 * `promtool test rules` on the prod stack's rendered rule file: each alert of the data stores
 * and of notification delivery fires on the condition it names and stays quiet otherwise.
 */

const PROMTOOL = process.env.PRISM_PROMTOOL ?? 'promtool';
const { objects, stack } = synth('prod');
const rulesText: string = (find(objects, 'ConfigMap', 'prometheus-config') as any).data[RULES_FILE];

interface Rule {
  alert: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const GROUPS = parse(rulesText).groups as { name: string; rules: Rule[] }[];
const RULES = new Map<string, Rule>(GROUPS.flatMap((g) => g.rules).map((r) => [r.alert, r]));

const V = {
  auth: bytes(stack.config.storage.sizes.postgresAuth)!,
  ops: bytes(stack.config.storage.sizes.postgresOps)!,
};
const AUTH = 'postgres-auth-exporter';
const OPS = 'postgres-ops-exporter';

interface Case {
  readonly alert: string;
  readonly name: string;
  readonly series: Record<string, string>;
  /** Labels of each expected alert (besides alertname and the rule's own); none means it must stay quiet. */
  readonly fires: Record<string, string>[];
  readonly at: string;
}

const s = (metric: string, labels: Record<string, string>) =>
  `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ')}}`;
const flat = (v: number, n = 60) => `${Math.round(v)}x${n}`;

const slot = {
  job: AUTH,
  instance: 'postgres-auth-exporter:9187',
  slot_name: 'prism_wal_archive',
  slot_type: 'physical',
};
const pool = (instance: string) => ({ service: 'auth', pool: 'auth', job: 'auth', instance });
const poolSeries = (instance: string, total: number, waiting: number, max = 10) => ({
  [s('prism_db_pool_connections', { ...pool(instance), state: 'total' })]: flat(total),
  [s('prism_db_pool_connections', { ...pool(instance), state: 'idle' })]: flat(Math.max(0, total - 1)),
  [s('prism_db_pool_connections', { ...pool(instance), state: 'waiting' })]: flat(waiting),
  [s('prism_db_pool_max_connections', pool(instance))]: flat(max),
});
const CASES: Case[] = [
  {
    alert: 'PrismDbPoolExhausted',
    name: 'every connection open and clients waiting on both replicas',
    series: { ...poolSeries('a', 10, 3), ...poolSeries('b', 10, 1) },
    fires: [{ service: 'auth', pool: 'auth' }],
    at: '10m',
  },
  {
    alert: 'PrismDbPoolExhausted',
    name: 'clients waiting while connections are still being opened',
    series: { ...poolSeries('a', 6, 2) },
    fires: [],
    at: '10m',
  },
  {
    alert: 'PrismDbPoolExhausted',
    name: 'a full pool with nobody waiting',
    series: { ...poolSeries('a', 10, 0) },
    fires: [],
    at: '10m',
  },
  {
    alert: 'PrismPostgresDown',
    name: 'the exporter reports pg_up 0',
    series: { [s('pg_up', { job: AUTH, instance: 'a' })]: flat(0) },
    fires: [{ job: AUTH, instance: 'a' }],
    at: '5m',
  },
  {
    alert: 'PrismPostgresDown',
    name: 'pg_up 1',
    series: { [s('pg_up', { job: AUTH, instance: 'a' })]: flat(1) },
    fires: [],
    at: '5m',
  },
  {
    alert: 'PrismPostgresDiskFull',
    name: 'databases and WAL above 85% of the auth volume',
    series: {
      [s('pg_database_size_bytes', { job: AUTH, datname: 'prism_auth' })]: flat(V.auth * 0.8),
      [s('pg_wal_size_bytes', { job: AUTH })]: flat(V.auth * 0.1),
    },
    fires: [{ job: AUTH }],
    at: '15m',
  },
  {
    alert: 'PrismPostgresDiskFull',
    name: 'the same bytes are only 60% of the volume',
    series: {
      [s('pg_database_size_bytes', { job: AUTH, datname: 'prism_auth' })]: flat(V.auth * 0.5),
      [s('pg_wal_size_bytes', { job: AUTH })]: flat(V.auth * 0.1),
    },
    fires: [],
    at: '15m',
  },
  {
    alert: 'PrismPostgresWalGrowing',
    name: 'WAL at a quarter of the ops volume',
    series: { [s('pg_wal_size_bytes', { job: OPS })]: flat(V.ops * 0.25) },
    fires: [{ job: OPS }],
    at: '20m',
  },
  {
    alert: 'PrismPostgresWalGrowing',
    name: 'WAL at a tenth of the volume',
    series: { [s('pg_wal_size_bytes', { job: OPS })]: flat(V.ops * 0.1) },
    fires: [],
    at: '20m',
  },
  {
    alert: 'PrismPostgresReplicationSlotInactive',
    name: 'the archive slot has no consumer for 40 minutes',
    series: { [s('pg_replication_slot_slot_is_active', slot)]: flat(0) },
    fires: [slot],
    at: '40m',
  },
  {
    alert: 'PrismPostgresReplicationSlotInactive',
    name: 'the slot is streaming',
    series: { [s('pg_replication_slot_slot_is_active', slot)]: flat(1) },
    fires: [],
    at: '40m',
  },
  {
    alert: 'PrismPostgresReplicationSlotAtRisk',
    name: "a tenth of the slot's WAL allowance left",
    series: { [s('pg_replication_slot_safe_wal_size_bytes', slot)]: flat((V.auth / 4) * 0.1) },
    fires: [slot],
    at: '10m',
  },
  {
    alert: 'PrismPostgresReplicationSlotAtRisk',
    name: 'the slot has already lost WAL',
    series: { [s('pg_replication_slot_wal_status', { ...slot, wal_status: 'lost' })]: flat(1) },
    fires: [{ ...slot, wal_status: 'lost' }],
    at: '10m',
  },
  {
    alert: 'PrismPostgresReplicationSlotAtRisk',
    name: 'most of the allowance left, WAL reserved',
    series: {
      [s('pg_replication_slot_safe_wal_size_bytes', slot)]: flat((V.auth / 4) * 0.9),
      [s('pg_replication_slot_wal_status', { ...slot, wal_status: 'reserved' })]: flat(1),
    },
    fires: [],
    at: '10m',
  },
  {
    alert: 'PrismRedisDown',
    name: 'redis_up 0',
    series: { [s('redis_up', { job: 'redis-exporter', instance: 'r' })]: flat(0) },
    fires: [{ job: 'redis-exporter', instance: 'r' }],
    at: '5m',
  },
  {
    alert: 'PrismRedisDown',
    name: 'redis_up 1',
    series: { [s('redis_up', { job: 'redis-exporter', instance: 'r' })]: flat(1) },
    fires: [],
    at: '5m',
  },
  {
    alert: 'PrismRedisMemoryHigh',
    name: '95% of maxmemory',
    series: {
      [s('redis_memory_used_bytes', { job: 'redis-exporter', instance: 'r' })]: flat(950),
      [s('redis_memory_max_bytes', { job: 'redis-exporter', instance: 'r' })]: flat(1000),
    },
    fires: [{ job: 'redis-exporter', instance: 'r' }],
    at: '15m',
  },
  {
    alert: 'PrismRedisMemoryHigh',
    name: 'half of maxmemory',
    series: {
      [s('redis_memory_used_bytes', { job: 'redis-exporter', instance: 'r' })]: flat(500),
      [s('redis_memory_max_bytes', { job: 'redis-exporter', instance: 'r' })]: flat(1000),
    },
    fires: [],
    at: '15m',
  },
  {
    alert: 'PrismRedisMemoryHigh',
    name: 'no maxmemory set (0): nothing to compare with',
    series: {
      [s('redis_memory_used_bytes', { job: 'redis-exporter', instance: 'r' })]: flat(950),
      [s('redis_memory_max_bytes', { job: 'redis-exporter', instance: 'r' })]: flat(0),
    },
    fires: [],
    at: '15m',
  },
  {
    alert: 'PrismNatsDown',
    name: 'the exporter gets nothing from NATS',
    series: { [s('up', { job: 'nats-exporter', instance: 'n' })]: flat(1) },
    fires: [{}],
    at: '5m',
  },
  {
    alert: 'PrismNatsDown',
    name: 'NATS answers',
    series: { [s('gnatsd_varz_connections', { job: 'nats-exporter', server_id: 'http://nats:8222' })]: flat(3) },
    fires: [],
    at: '5m',
  },
  {
    alert: 'PrismNatsJetStreamStorageHigh',
    name: 'JetStream storage 90% of its limit',
    series: {
      [s('gnatsd_varz_jetstream_stats_storage', { job: 'nats-exporter', server_id: 'n' })]: flat(900),
      [s('gnatsd_varz_jetstream_config_max_storage', { job: 'nats-exporter', server_id: 'n' })]: flat(1000),
    },
    fires: [{ job: 'nats-exporter', server_id: 'n' }],
    at: '15m',
  },
  {
    alert: 'PrismNatsJetStreamStorageHigh',
    name: 'JetStream storage 50% of its limit',
    series: {
      [s('gnatsd_varz_jetstream_stats_storage', { job: 'nats-exporter', server_id: 'n' })]: flat(500),
      [s('gnatsd_varz_jetstream_config_max_storage', { job: 'nats-exporter', server_id: 'n' })]: flat(1000),
    },
    fires: [],
    at: '15m',
  },
  {
    alert: 'PrismConsulDown',
    name: 'Consul not scraped',
    series: { [s('up', { job: 'consul', instance: 'c' })]: flat(0) },
    fires: [{ job: 'consul', instance: 'c' }],
    at: '5m',
  },
  {
    alert: 'PrismConsulDown',
    name: 'Consul up, another target down',
    series: {
      [s('up', { job: 'consul', instance: 'c' })]: flat(1),
      [s('up', { job: 'gateway', instance: 'g' })]: flat(0),
    },
    fires: [],
    at: '5m',
  },
  {
    alert: 'PrismConsulUnhealthy',
    name: 'autopilot unhealthy',
    series: { [s('consul_autopilot_healthy', { job: 'consul', instance: 'c' })]: flat(0) },
    fires: [{ job: 'consul', instance: 'c' }],
    at: '10m',
  },
  {
    alert: 'PrismConsulUnhealthy',
    name: 'autopilot healthy',
    series: { [s('consul_autopilot_healthy', { job: 'consul', instance: 'c' })]: flat(1) },
    fires: [],
    at: '10m',
  },
  {
    alert: 'PrismMinioDown',
    name: 'MinIO not scraped',
    series: { [s('up', { job: 'minio', instance: 'm' })]: flat(0) },
    fires: [{ job: 'minio', instance: 'm' }],
    at: '5m',
  },
  {
    alert: 'PrismMinioDown',
    name: 'MinIO up',
    series: { [s('up', { job: 'minio', instance: 'm' })]: flat(1) },
    fires: [],
    at: '5m',
  },
  {
    alert: 'PrismMinioDiskFull',
    name: '5% free',
    series: {
      [s('minio_cluster_capacity_usable_free_bytes', { job: 'minio', instance: 'm' })]: flat(5),
      [s('minio_cluster_capacity_usable_total_bytes', { job: 'minio', instance: 'm' })]: flat(100),
    },
    fires: [{ job: 'minio', instance: 'm' }],
    at: '15m',
  },
  {
    alert: 'PrismMinioDiskFull',
    name: 'half free',
    series: {
      [s('minio_cluster_capacity_usable_free_bytes', { job: 'minio', instance: 'm' })]: flat(50),
      [s('minio_cluster_capacity_usable_total_bytes', { job: 'minio', instance: 'm' })]: flat(100),
    },
    fires: [],
    at: '15m',
  },
  {
    alert: 'PrismAlertmanagerNotificationsFailing',
    name: 'Slack notifications failing every minute',
    series: {
      [s('alertmanager_notifications_failed_total', { job: 'alertmanager', instance: 'a', integration: 'slack' })]:
        '0+1x60',
    },
    fires: [{ integration: 'slack' }],
    at: '20m',
  },
  {
    alert: 'PrismAlertmanagerNotificationsFailing',
    name: 'no failure',
    series: {
      [s('alertmanager_notifications_failed_total', { job: 'alertmanager', instance: 'a', integration: 'slack' })]:
        '3x60',
    },
    fires: [],
    at: '20m',
  },
];

/** The rule's annotations as Prometheus expands them for an alert with these labels (the summaries use only $labels). */
const expand = (text: string, labels: Record<string, string>) =>
  text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l: string) => labels[l] ?? '');

function promtoolTest(cases: readonly Case[]): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'prism-rules-'));
  writeFileSync(join(dir, RULES_FILE), rulesText);
  const tests = cases.map((c) => {
    const rule = RULES.get(c.alert)!;
    return {
      interval: '1m',
      input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
      alert_rule_test: [
        {
          eval_time: c.at,
          alertname: c.alert,
          exp_alerts: c.fires.map((labels) => {
            const all = { ...labels, ...rule.labels };
            return {
              exp_labels: all,
              exp_annotations: Object.fromEntries(
                Object.entries(rule.annotations).map(([k, v]) => [k, expand(v, all)]),
              ),
            };
          }),
        },
      ],
    };
  });
  const file = join(dir, 'tests.yml');
  writeFileSync(file, stringify({ rule_files: [RULES_FILE], evaluation_interval: '1m', tests }));
  const r = spawnSync(PROMTOOL, ['test', 'rules', file], { encoding: 'utf8', cwd: dir });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('promtool test rules: the data-store and delivery alerts', () => {
  it('cover every new alert with a firing and a quiet case', () => {
    const alerts = GROUPS.filter((g) => ['prism-datastores', 'prism-alerting'].includes(g.name)).flatMap((g) =>
      g.rules.map((r) => r.alert),
    );
    expect(alerts.length).toBe(15);
    for (const a of alerts) {
      expect(
        CASES.some((c) => c.alert === a && c.fires.length > 0),
        `${a} fires somewhere`,
      ).toBe(true);
      expect(
        CASES.some((c) => c.alert === a && c.fires.length === 0),
        `${a} stays quiet somewhere`,
      ).toBe(true);
    }
  });

  it.each(CASES.map((c) => [`${c.alert}: ${c.name}`, c] as const))('%s', (_, c) => {
    const r = promtoolTest([c]);
    expect(r.out).toContain('SUCCESS');
    expect(r.status, r.out).toBe(0);
  });

  it('fails when an alert is expected to fire but the condition does not hold (the harness can fail)', () => {
    const quiet = CASES.find((c) => c.alert === 'PrismRedisMemoryHigh' && c.fires.length === 0)!;
    const r = promtoolTest([{ ...quiet, fires: [{ job: 'redis-exporter', instance: 'r' }] }]);
    expect(r.status).not.toBe(0);
  });

  it('the watchdog fires with no series at all, from the first evaluation', () => {
    const r = promtoolTest([{ alert: WATCHDOG_ALERT, name: 'always', series: {}, fires: [{}], at: '0m' }]);
    expect(r.out).toContain('SUCCESS');
    expect(r.status, r.out).toBe(0);
    expect(RULES.get(WATCHDOG_ALERT)!.labels.severity).toBe('none');
  });

  it('thresholds follow the stack: the disk alert of a larger volume needs more bytes', () => {
    expect(rulesText).toContain(String(Math.floor(V.auth * STORE_THRESHOLDS.postgresDiskFull)));
    expect(rulesText).toContain(String(Math.floor((V.auth / 4) * STORE_THRESHOLDS.slotSafeWal)));
  });
});
