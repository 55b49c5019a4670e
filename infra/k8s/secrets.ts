import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { StackConfig } from '../config/index.js';
import { SECRET_NAME, type SecretKey, stackSecretKeys } from '../contract/index.js';

export interface PlatformSecretsProps {
  readonly secrets: StackConfig['secrets'];
  /** With an off-site backup store its credentials are synced too. */
  readonly offsite: boolean;
  readonly labels: Record<string, string>;
  /**
   * Notification credentials the configured receivers use. The others are left out: a store
   * need not hold a Slack URL for a stack that notifies no Slack channel.
   * @default none
   */
  readonly alertingSecrets?: readonly SecretKey[];
}

/**
 * `prism-secrets`, by reference only. In `external` mode an ExternalSecret syncs it from the
 * configured store; in `pulumi` mode the Pulumi program creates it from secret config; in
 * `local` mode `npm run local-secrets` writes it to a git-ignored file. No value is ever rendered.
 */
export class PlatformSecrets extends Construct {
  constructor(scope: Construct, id: string, props: PlatformSecretsProps) {
    super(scope, id);
    const s = props.secrets;
    if (s.mode !== 'external') return;
    new ApiObject(this, 'ExternalSecret', {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: SECRET_NAME, labels: props.labels },
      spec: {
        refreshInterval: s.refreshInterval,
        secretStoreRef: { kind: s.storeKind, name: s.storeName },
        target: { name: SECRET_NAME, creationPolicy: 'Owner', deletionPolicy: 'Retain', template: { type: 'Opaque' } },
        data: stackSecretKeys({ offsite: props.offsite, alertingSecrets: props.alertingSecrets ?? [] }).map((k) => ({
          secretKey: k.key,
          remoteRef: { key: `${s.remotePrefix}${k.key}` },
        })),
      },
    });
  }
}
