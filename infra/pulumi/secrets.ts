import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { StackConfigError } from '../config/index.js';
import { componentLabels } from '../k8s/labels.js';
import { SECRET_KEYS, SECRET_NAME, type SecretKey } from '../contract/index.js';

/**
 * The secret values of `prism-secrets` from the stack's secret config (`pulumi config set --secret
 * prism:<key>`), keyed by the Kubernetes Secret key. Every missing required key is reported at
 * once; OAuth client credentials ('provided') may be absent, the workloads read them as optional.
 * A notification credential is required when a configured receiver reads it (`required`): its file
 * mount would otherwise keep Alertmanager from starting.
 */
export function secretValues(
  stack: string,
  config: pulumi.Config,
  required: readonly SecretKey[] = [],
): Record<string, pulumi.Output<string>> {
  const values: Record<string, pulumi.Output<string>> = {};
  const missing: string[] = [];
  for (const spec of SECRET_KEYS) {
    const value = config.getSecret(spec.pulumiKey);
    if (value !== undefined) values[spec.key] = value;
    else if (spec.source !== 'provided' || required.includes(spec.key)) {
      missing.push(
        `${config.name}:${spec.pulumiKey}: required in secrets mode pulumi (${spec.description}); set it with pulumi config set --secret ${config.name}:${spec.pulumiKey}`,
      );
    }
  }
  if (missing.length > 0) throw new StackConfigError(`stack ${stack}`, missing);
  return values;
}

/** `prism-secrets` as a Kubernetes Secret owned by Pulumi; its data stays secret in the state. */
export function platformSecret(
  namespace: string,
  values: Record<string, pulumi.Output<string>>,
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.Secret {
  return new k8s.core.v1.Secret(
    `${namespace}/${SECRET_NAME}`,
    {
      metadata: { name: SECRET_NAME, namespace, labels: componentLabels('prism', 'base') },
      type: 'Opaque',
      // Already secret outputs; pulumi.secret keeps the whole map secret even if one were not.
      stringData: pulumi.secret(values),
    },
    opts,
  );
}
