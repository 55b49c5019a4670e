import { Construct } from 'constructs';
import * as k8s from './imports/k8s.js';
import type { Scaling } from '../model/index.js';

export interface WorkloadScalingProps {
  /** The Deployment scaled and protected (its name and its pods' selector labels). */
  readonly name: string;
  readonly selector: Record<string, string>;
  readonly labels: Record<string, string>;
  /** The replicas the workload runs at its floor: a PodDisruptionBudget protects more than one. */
  readonly minReplicas: number;
  /**
   * CPU-based autoscaling of the Deployment.
   * @default - no HorizontalPodAutoscaler: the workload's own replica count holds
   */
  readonly autoscaling?: NonNullable<Scaling['autoscaling']>;
}

/** How many pods run and how many may be taken away: the HorizontalPodAutoscaler and the PodDisruptionBudget. */
export class WorkloadScaling extends Construct {
  readonly hpa?: k8s.KubeHorizontalPodAutoscalerV2;
  /** Present when the workload runs more than one replica: voluntary disruptions take one pod at a time. */
  readonly pdb?: k8s.KubePodDisruptionBudget;

  constructor(scope: Construct, id: string, props: WorkloadScalingProps) {
    super(scope, id);
    const a = props.autoscaling;
    if (a) {
      this.hpa = new k8s.KubeHorizontalPodAutoscalerV2(this, 'Hpa', {
        metadata: { name: `${props.name}-hpa`, labels: props.labels },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: props.name },
          minReplicas: a.minReplicas,
          maxReplicas: a.maxReplicas,
          metrics: [
            {
              type: 'Resource',
              resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: a.targetCPUUtilization } },
            },
          ],
        },
      });
    }
    if (props.minReplicas > 1) {
      this.pdb = new k8s.KubePodDisruptionBudget(this, 'Pdb', {
        metadata: { name: props.name, labels: props.labels },
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: props.selector } },
      });
    }
  }
}
