import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { EdgeIngress } from '../ingress.js';
import type { Platform } from '../../model/index.js';

/** The edge: in Kubernetes, the cluster's ingress controller with the platform's Ingress. */
export class EdgeChart extends Chart {
  constructor(scope: Construct, id: string, props: { readonly platform: Platform }) {
    super(scope, id, { namespace: props.platform.namespace, disableResourceNameHashes: true });
    new EdgeIngress(this, 'Ingress', props);
  }
}
