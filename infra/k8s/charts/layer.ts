import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { LOG_NAMESPACE } from '../log-shipping.js';
import { NetworkPolicies, type NamespaceIngress } from '../network-policy.js';
import { Workload } from '../workload.js';
import type { Component, Layer, Platform } from '../../model/index.js';

export interface LayerChartProps {
  readonly platform: Platform;
  /** The layer whose components this chart holds (data, core, observability). */
  readonly layer: Layer;
  /**
   * StorageClass of the layer's volume claims.
   * @default - the cluster's default StorageClass
   */
  readonly storageClass?: string;
  /** The log shipper (Alloy DaemonSet) runs in its own namespace and pushes to Loki. */
  readonly logShipping: boolean;
}

/** Ingress from other namespaces: the ingress controller to the edge routes, the log shipper to Loki. */
function namespaceIngress(platform: Platform, logShipping: boolean): NamespaceIngress[] {
  return [
    ...platform.edge.routes.map((r) => ({ namespace: platform.edge.controllerNamespace, to: r.to, port: r.port })),
    ...(logShipping ? [{ namespace: LOG_NAMESPACE, to: 'loki' as const, port: 'http' }] : []),
  ];
}

/** The workloads of one layer of the model (core, data, observability) and their network policies. */
export class LayerChart extends Chart {
  readonly components: readonly Component[];

  constructor(scope: Construct, id: string, props: LayerChartProps) {
    super(scope, id, { namespace: props.platform.namespace, disableResourceNameHashes: true });
    const { platform } = props;
    this.components = platform.components.filter((c) => c.layer === props.layer);
    for (const component of this.components) {
      new Workload(this, component.name, { platform, component, storageClass: props.storageClass });
    }
    new NetworkPolicies(this, 'NetworkPolicies', {
      platform,
      components: this.components,
      namespaceIngress: namespaceIngress(platform, props.logShipping),
    });
  }
}
