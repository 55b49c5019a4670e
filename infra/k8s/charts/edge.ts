import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { EdgeIngress } from '../ingress.js';
import type { Platform } from '../../model/index.js';

export interface EdgeChartProps {
  /** The platform whose edge routes, host and TLS settings the Ingress carries. */
  readonly platform: Platform;
}

/** The edge: in Kubernetes, the cluster's ingress controller with the platform's Ingresses. */
export class EdgeChart extends Chart {
  /** The Ingresses (one per backend) and the edge's certificate. */
  readonly ingress: EdgeIngress;

  constructor(scope: Construct, id: string, props: EdgeChartProps) {
    super(scope, id, { namespace: props.platform.namespace, disableResourceNameHashes: true });
    this.ingress = new EdgeIngress(this, 'Ingress', props);
  }
}
