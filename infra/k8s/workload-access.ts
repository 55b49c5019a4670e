import { Construct } from 'constructs';
import * as k8s from './imports/k8s.js';

export interface WorkloadAccessProps {
  /** Name of the ServiceAccount, Role and RoleBinding (the component's name). */
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  /**
   * Core-group resources the pods may read (get, list, watch) in their namespace.
   * @default - none: no Role or RoleBinding, the ServiceAccount has no permission
   */
  readonly readResources?: readonly string[];
}

/** The identity a component's pods run as: its ServiceAccount (no token mounted) and, when it reads the API, a read-only Role. */
export class WorkloadAccess extends Construct {
  readonly serviceAccount: k8s.KubeServiceAccount;
  readonly role?: k8s.KubeRole;
  readonly roleBinding?: k8s.KubeRoleBinding;

  constructor(scope: Construct, id: string, props: WorkloadAccessProps) {
    super(scope, id);
    const metadata = { name: props.name, labels: props.labels };
    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata,
      automountServiceAccountToken: false,
    });
    if (!props.readResources) return;
    this.role = new k8s.KubeRole(this, 'Role', {
      metadata,
      rules: [{ apiGroups: [''], resources: [...props.readResources], verbs: ['get', 'list', 'watch'] }],
    });
    this.roleBinding = new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: props.name },
      subjects: [{ kind: 'ServiceAccount', name: props.name, namespace: props.namespace }],
    });
  }
}
