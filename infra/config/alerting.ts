import { z } from 'zod';
import { cidrBlock } from './cidr.js';

/**
 * Where alerts go: Alertmanager's routes and receivers, as stack configuration. Credentials are
 * never values here: each receiver kind reads its one credential from a fixed key of
 * `prism-secrets` (see `ALERTING_SECRETS` in the model), mounted as a file.
 */

/** The receiver alerts go to when nothing else is configured for them: it notifies nobody, and says so in its name. */
export const UNROUTED_RECEIVER = 'unrouted';

const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a lower-case name such as on-call');
const duration = z.string().regex(/^\d+[smh]$/, 'expected a duration such as 30s, 5m or 4h');
const email = z.string().regex(/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/, 'expected an e-mail address');
/** `host:port` of an SMTP relay. */
const smarthost = z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'expected host:port such as smtp.example.com:587');
/** Alertmanager's matcher syntax: `label="value"`, `label!="value"`, `label=~"re"`, `label!~"re"`. */
const matcher = z
  .string()
  .regex(/^[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)"(?:[^"\\]|\\.)*"$/, 'expected a matcher such as severity="critical"');

/** A URL may not carry credentials: user info in it would be written into the rendered config. */
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http or https URL' }).refine(
  (u) => {
    try {
      const url = new URL(u);
      return url.username === '' && url.password === '';
    } catch {
      return true;
    }
  },
  { message: 'expected a URL without user:password (credentials belong in prism-secrets, not in stack configuration)' },
);

const receiver = z
  .strictObject({
    name,
    /** An HTTP endpoint that receives Alertmanager's JSON (for example a chat bridge or an incident tool). */
    webhook: z.strictObject({ url: httpUrl, sendResolved: z.boolean().default(true) }).optional(),
    /** A Slack channel; the incoming-webhook URL is the secret `alertmanager-slack-api-url`. */
    slack: z
      .strictObject({
        channel: z.string().regex(/^[#@][^\s]+$/, 'expected a channel such as #prism-alerts'),
        sendResolved: z.boolean().default(true),
      })
      .optional(),
    /** PagerDuty Events API v2; the routing key is the secret `alertmanager-pagerduty-routing-key`. */
    pagerduty: z.strictObject({ sendResolved: z.boolean().default(true) }).optional(),
    /** E-mail through an SMTP relay; the password is the secret `alertmanager-smtp-password` when authUsername is set. */
    email: z
      .strictObject({
        to: email,
        from: email,
        smarthost,
        authUsername: z.string().min(1).optional(),
        /** STARTTLS is required unless turned off (a relay on the same host). */
        requireTls: z.boolean().default(true),
        sendResolved: z.boolean().default(false),
      })
      .optional(),
  })
  .refine((r) => r.webhook || r.slack || r.pagerduty || r.email, {
    message: 'a receiver needs at least one of webhook, slack, pagerduty, email',
  });

const route = z.strictObject({
  receiver: name,
  /** All must match; at least one. */
  matchers: z.array(matcher).min(1, 'expected at least one matcher'),
  /** Keep matching the following routes after this one. */
  continue: z.boolean().default(false),
});

export const alerting = z
  .strictObject({
    receivers: z.array(receiver).default([]),
    /** Checked in order; the first match wins unless it says `continue`. */
    routes: z.array(route).default([]),
    /**
     * The dead man's switch: the always-firing `PrismWatchdog` alert goes to this receiver every `interval`, and a
     * heartbeat service (healthchecks.io, Dead Man's Snitch, PagerDuty's heartbeats) raises the alarm when it stops
     * arriving: the whole path from Prometheus to the receiver is then broken. Unset, the watchdog goes to `unrouted`;
     * never to a route of its own or to `defaultReceiver`.
     */
    heartbeat: z.strictObject({ receiver: name, interval: duration.default('5m') }).optional(),
    /** Receives every alert no route matches; required once receivers are set. */
    defaultReceiver: name.optional(),
    /**
     * The only address ranges Alertmanager may reach (a NetworkPolicy cannot name hosts, and it
     * never opens the whole internet): the egress proxy, the SMTP relay, in-cluster webhooks.
     * Required once a receiver is set.
     */
    egressCidrs: z.array(cidrBlock).min(1, 'expected at least one CIDR block').optional(),
    /** HTTP(S) proxy for the webhook, Slack and PagerDuty receivers (Alertmanager's `proxy_url`); they go direct when unset. */
    proxyUrl: httpUrl.optional(),
    groupBy: z
      .array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'expected a label name'))
      .default(['alertname', 'severity']),
    groupWait: duration.default('30s'),
    groupInterval: duration.default('5m'),
    repeatInterval: duration.default('4h'),
  })
  .superRefine((a, ctx) => {
    const names = new Set<string>();
    a.receivers.forEach((r, i) => {
      if (r.name === UNROUTED_RECEIVER)
        ctx.addIssue({
          code: 'custom',
          path: ['receivers', i, 'name'],
          message: `${UNROUTED_RECEIVER} is reserved: the receiver that notifies nobody`,
          input: r.name,
        });
      if (names.has(r.name))
        ctx.addIssue({
          code: 'custom',
          path: ['receivers', i, 'name'],
          message: `receiver ${r.name} is defined twice`,
          input: r.name,
        });
      names.add(r.name);
    });
    const known = (n: string) => names.has(n);
    if (a.receivers.length > 0 && !a.defaultReceiver) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultReceiver'],
        message: 'required when receivers are set (alerts no route matches go there)',
        input: undefined,
      });
    }
    if (a.receivers.length > 0 && !a.egressCidrs) {
      ctx.addIssue({
        code: 'custom',
        path: ['egressCidrs'],
        message:
          'required when receivers are set: the address ranges of the egress proxy, SMTP relay or webhooks Alertmanager may reach',
        input: undefined,
      });
    }
    if (a.defaultReceiver && !known(a.defaultReceiver)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultReceiver'],
        message: `expected the name of a receiver (${[...names].join(', ') || 'none defined'})`,
        input: a.defaultReceiver,
      });
    }
    if (a.heartbeat && !known(a.heartbeat.receiver)) {
      ctx.addIssue({
        code: 'custom',
        path: ['heartbeat', 'receiver'],
        message: `expected the name of a receiver (${[...names].join(', ') || 'none defined'})`,
        input: a.heartbeat.receiver,
      });
    }
    a.routes.forEach((r, i) => {
      if (!known(r.receiver))
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'receiver'],
          message: `expected the name of a receiver (${[...names].join(', ') || 'none defined'})`,
          input: r.receiver,
        });
    });
  })
  .prefault({});

export type AlertingConfig = z.infer<typeof alerting>;
export type AlertReceiver = AlertingConfig['receivers'][number];
