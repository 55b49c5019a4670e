import { AUTH_EVENT_SUBJECTS, AUTH_EVENTS_STREAM } from './auth.js';
import { SUBJECTS } from './commands.js';
import type { WorkloadName } from './mtls.js';
import type { ServiceName } from './services.js';

/**
 * Who may do what on NATS. The server maps each client certificate of the mesh CA to the user named by
 * its URI SAN (`verify_and_map`), and each user may publish and subscribe to exactly the subjects below;
 * everything else (other subjects, every other JetStream API call) is refused by the server. The
 * renderers write these lists into nats-server.conf and the services connect with these inbox prefixes.
 */

/** The workload name of the NATS servers' own certificate (`spiffe://prism/nats`); it names no gRPC role. */
export const NATS_WORKLOAD = 'nats' satisfies WorkloadName;

/** The stream of the gateway's request events (subjects SUBJECTS.gatewayRequest). */
export const GATEWAY_REQUEST_STREAM = 'PRISM_GATEWAY_REQUESTS';

/**
 * The auth events the gateway may read: the revocations it acts on (its revocation feed subscribes to
 * exactly these; a reused refresh token's family arrives as session revocations). Only these (not the user
 * events, which carry user ids and addresses) reach its subscriptions.
 */
export const AUTH_REVOCATION_SUBJECTS = Object.values(AUTH_EVENT_SUBJECTS);

/** Replies (JetStream acknowledgements, API answers) come to a per-workload inbox, so no one reads another's. */
export const natsInboxPrefix = (service: ServiceName): string => `_INBOX_${service}`;

/**
 * The JetStream API subjects a stream's owner needs to check and create it: never UPDATE (lowering its
 * limits empties it), PURGE, DELETE, MSG.DELETE, or any consumer or message read. A stream that exists
 * is kept as it is; raising its replicas is an operator's step (docs/security.md).
 */
const ownStream = (stream: string) => [
  '$JS.API.INFO',
  `$JS.API.STREAM.INFO.${stream}`,
  `$JS.API.STREAM.CREATE.${stream}`,
];

export interface NatsPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/**
 * Each service's NATS user. The DB manager does not use NATS and has no user: its certificate is refused.
 * The config service is the only writer (and reader) of the config change subjects.
 */
export const NATS_PERMISSIONS: Readonly<Partial<Record<ServiceName, NatsPermissions>>> = {
  gateway: {
    publish: [SUBJECTS.gatewayRequest, ...ownStream(GATEWAY_REQUEST_STREAM)],
    subscribe: [`${natsInboxPrefix('gateway')}.>`, ...AUTH_REVOCATION_SUBJECTS],
  },
  auth: {
    // STREAM.NAMES: auth keeps an operator's own stream that already captures its subjects.
    publish: [SUBJECTS.authUser, SUBJECTS.authToken, ...ownStream(AUTH_EVENTS_STREAM), '$JS.API.STREAM.NAMES'],
    subscribe: [`${natsInboxPrefix('auth')}.>`],
  },
  config: {
    publish: [SUBJECTS.config],
    subscribe: [SUBJECTS.config, `${natsInboxPrefix('config')}.>`],
  },
};
