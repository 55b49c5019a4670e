import { UNROUTED_RECEIVER, type AlertingConfig, type AlertReceiver } from '../../config/index.js';
import { ALERTING_SECRETS, type SecretKey } from '../../contract/index.js';
import { toYaml } from './yaml.js';

/**
 * Where the notification credentials are mounted in the Alertmanager container, one file per key. Not inside the
 * read-only config mount (/etc/alertmanager): the runtime cannot make a mount point in a read-only ConfigMap volume.
 */
export const ALERTMANAGER_SECRETS_DIR = '/etc/alertmanager-secrets';
/** The always-firing alert of the dead man's switch (the rule: `alertRulesYaml`). */
export const WATCHDOG_ALERT = 'PrismWatchdog';

type Kind = keyof typeof ALERTING_SECRETS;

/** The credential file of a receiver kind, inside {@link ALERTMANAGER_SECRETS_DIR}: named after its secret key. */
const secretFile = (kind: Kind): string => ALERTING_SECRETS[kind];

const needsSecret = (r: AlertReceiver): Kind[] =>
  [r.slack && 'slack', r.pagerduty && 'pagerduty', r.email?.authUsername && 'email'].filter((k): k is Kind =>
    Boolean(k),
  );

/** The secret keys the configured receivers read (each once), in catalog order. */
export function alertingSecretKeys(a: AlertingConfig): SecretKey[] {
  const kinds = new Set(a.receivers.flatMap(needsSecret));
  return (Object.keys(ALERTING_SECRETS) as Kind[]).filter((k) => kinds.has(k)).map((k) => ALERTING_SECRETS[k]);
}

function receiverConfig(r: AlertReceiver, secretsDir: string, proxyUrl: string | undefined): Record<string, unknown> {
  const file = (kind: Kind) => `${secretsDir}/${secretFile(kind)}`;
  // The HTTP receivers leave through the egress proxy when there is one.
  const http = proxyUrl ? { http_config: { proxy_url: proxyUrl } } : {};
  return {
    name: r.name,
    ...(r.webhook ? { webhook_configs: [{ url: r.webhook.url, send_resolved: r.webhook.sendResolved, ...http }] } : {}),
    ...(r.slack
      ? {
          slack_configs: [
            {
              api_url_file: file('slack'),
              channel: r.slack.channel,
              send_resolved: r.slack.sendResolved,
              title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}',
              text: '{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.runbook_url }}\n{{ end }}',
              ...http,
            },
          ],
        }
      : {}),
    ...(r.pagerduty
      ? {
          pagerduty_configs: [
            { routing_key_file: file('pagerduty'), send_resolved: r.pagerduty.sendResolved, ...http },
          ],
        }
      : {}),
    ...(r.email
      ? {
          email_configs: [
            {
              to: r.email.to,
              from: r.email.from,
              smarthost: r.email.smarthost,
              require_tls: r.email.requireTls,
              send_resolved: r.email.sendResolved,
              ...(r.email.authUsername
                ? { auth_username: r.email.authUsername, auth_password_file: file('email') }
                : {}),
            },
          ],
        }
      : {}),
  };
}

/**
 * `alertmanager.yml` from the stack's alerting configuration. Credentials appear only as file
 * paths under `secretsDir`; the values stay in `prism-secrets`.
 */
export function alertmanagerYaml(a: AlertingConfig, secretsDir = ALERTMANAGER_SECRETS_DIR): string {
  const receivers = a.receivers.map((r) => receiverConfig(r, secretsDir, a.proxyUrl));
  const defaultReceiver = a.defaultReceiver ?? UNROUTED_RECEIVER;
  const watchdogReceiver = a.heartbeat?.receiver ?? UNROUTED_RECEIVER;
  if (defaultReceiver === UNROUTED_RECEIVER || watchdogReceiver === UNROUTED_RECEIVER)
    receivers.push({ name: UNROUTED_RECEIVER });
  // The watchdog first, matched by name and never passed on: it must not reach the default receiver or a route that
  // pages. Sent as soon as it arrives and again every heartbeat interval (a heartbeat service counts the gaps).
  const watchdog = {
    receiver: watchdogReceiver,
    matchers: [`alertname="${WATCHDOG_ALERT}"`],
    group_wait: '0s',
    ...(a.heartbeat ? { group_interval: a.heartbeat.interval, repeat_interval: a.heartbeat.interval } : {}),
  };
  return toYaml({
    route: {
      receiver: defaultReceiver,
      group_by: [...a.groupBy],
      group_wait: a.groupWait,
      group_interval: a.groupInterval,
      repeat_interval: a.repeatInterval,
      routes: [
        watchdog,
        ...a.routes.map((r) => ({
          receiver: r.receiver,
          matchers: [...r.matchers],
          ...(r.continue ? { continue: true } : {}),
        })),
      ],
    },
    // A critical alert silences the warnings of the same alert name and target while it fires.
    inhibit_rules: [
      {
        source_matchers: ['severity="critical"'],
        target_matchers: ['severity="warning"'],
        equal: ['alertname', 'job', 'instance'],
      },
    ],
    receivers,
  });
}
