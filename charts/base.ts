import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { StackConfig } from '../infra/config/index.js';
import { componentLabels } from '../infra/k8s/labels.js';
import { MeshCaIssuer } from '../infra/k8s/mesh-ca.js';
import { PlatformNamespace } from '../infra/k8s/namespace.js';
import { NamespaceNetworkBaseline } from '../infra/k8s/network-policy.js';
import { PlatformSecrets } from '../infra/k8s/secrets.js';
import type { Platform } from '../infra/model/index.js';

/** The namespace (restricted profile), its default-deny network baseline, the secret references and the mesh CA. */
export class BaseChart extends Chart {
  constructor(scope: Construct, id: string, props: { readonly platform: Platform; readonly config: StackConfig }) {
    super(scope, id, { namespace: props.platform.namespace, disableResourceNameHashes: true });
    const labels = componentLabels('prism', 'base');
    new PlatformNamespace(this, 'Namespace', { name: props.platform.namespace, level: 'restricted', labels });
    new NamespaceNetworkBaseline(this, 'Network', { labels });
    new PlatformSecrets(this, 'Secrets', { secrets: props.config.secrets, labels });
    new MeshCaIssuer(this, 'MeshCa', { ca: props.platform.mtls, environment: props.platform.environment, labels });
  }
}
