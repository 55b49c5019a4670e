import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { StackConfig } from '../../config/index.js';
import { componentLabels } from '../labels.js';
import { IssuancePolicy } from '../issuance-policy.js';
import { MeshCaIssuer } from '../mesh-ca.js';
import { PlatformNamespace, platformNamespaceProps } from '../namespace.js';
import { NamespaceNetworkBaseline } from '../network-policy.js';
import { PlatformSecrets } from '../secrets.js';
import { type Platform, alertingSecretKeys } from '../../model/index.js';

export interface BaseChartProps {
  readonly platform: Platform;
  /** The stack's configuration: secrets mode, off-site backups and alert receivers decide which secret keys are synced. */
  readonly config: StackConfig;
}

/**
 * The namespace (restricted profile), its default-deny network baseline, the secret references, the mesh CA
 * (its key in cert-manager's namespace) and the approval policies of every certificate the platform requests.
 */
export class BaseChart extends Chart {
  constructor(scope: Construct, id: string, props: BaseChartProps) {
    super(scope, id, { namespace: props.platform.namespace, disableResourceNameHashes: true });
    const labels = componentLabels('prism', 'base');
    new PlatformNamespace(this, 'Namespace', platformNamespaceProps(props.platform.namespace));
    new NamespaceNetworkBaseline(this, 'Network', { labels });
    // Only when Alertmanager runs (observability) do its receivers' credentials need to be synced.
    const alertingSecrets = props.config.observability.enabled ? alertingSecretKeys(props.config.alerting) : [];
    new PlatformSecrets(this, 'Secrets', {
      secrets: props.config.secrets,
      labels,
      offsite: !!props.config.backups.offsite,
      alertingSecrets,
    });
    new MeshCaIssuer(this, 'MeshCa', { ca: props.platform.mtls, environment: props.platform.environment, labels });
    new IssuancePolicy(this, 'IssuancePolicy', { platform: props.platform, labels });
  }
}
