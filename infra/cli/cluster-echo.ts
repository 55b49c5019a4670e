/**
 * The example upstream of the local platform (infra/local-platform/echo-server.ts) for the real-pods lane
 * (scripts/cluster-run.sh up), as compose-echo.ts gives it to the Compose lane: the dev stack routes only
 * /api/auth, so the journeys' protected and public routes need an upstream. Prints the objects to apply after
 * `pulumi up` (then the gateway is restarted to read its new routes): the `echo` Deployment (the gateway's image
 * running the same file under Pod Security "restricted"), its Service, the gateway's ConfigMap with the two echo
 * routes added, and NetworkPolicies for exactly the one new flow, gateway -> echo. The stack itself is unchanged
 * otherwise. Usage: cluster-echo.ts <gateway image>
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadStack } from '../config/index.js';
import { ECHO } from '../local-platform/render.js';
import { buildPlatform, toYaml } from '../model/index.js';
import { ECHO_PORT, gatewayYamlWithEcho } from './echo-gateway.js';

const image = process.argv[2];
if (!image) {
  console.error('usage: cluster-echo.ts <gateway image>');
  process.exit(2);
}
const root = resolve(import.meta.dirname, '../..');
const platform = buildPlatform('dev', loadStack(`${root}/stacks`, 'dev').config);
const namespace = platform.namespace;
const labels = { app: ECHO, 'app.kubernetes.io/name': ECHO, 'app.kubernetes.io/part-of': 'prism-cluster-run' };
const meta = (name: string) => ({ name, namespace, labels });
const probe = `fetch('http://127.0.0.1:${ECHO_PORT}/').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;

const objects = [
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(ECHO),
    data: { 'echo-server.ts': readFileSync(`${root}/infra/local-platform/echo-server.ts`, 'utf8') },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(ECHO),
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: ECHO } },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            runAsGroup: 10001,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: ECHO,
              image,
              imagePullPolicy: 'IfNotPresent',
              // Node 24 runs the TypeScript file as it is (type stripping); bound to every address of the pod.
              command: ['/usr/bin/tini', '--', 'node', '/opt/echo/echo-server.ts', String(ECHO_PORT), '0.0.0.0'],
              ports: [{ name: 'http', containerPort: ECHO_PORT }],
              readinessProbe: { exec: { command: ['node', '-e', probe] }, periodSeconds: 5 },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                readOnlyRootFilesystem: true,
              },
              resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
              volumeMounts: [{ name: 'echo', mountPath: '/opt/echo', readOnly: true }],
            },
          ],
          volumes: [{ name: 'echo', configMap: { name: ECHO } }],
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(ECHO),
    spec: { selector: { app: ECHO }, ports: [{ name: 'http', port: ECHO_PORT, targetPort: 'http' }] },
  },
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'gateway-config', namespace },
    data: { 'gateway.yaml': gatewayYamlWithEcho(platform, 'kubernetes', `http://${ECHO}:${ECHO_PORT}`) },
  },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(`${ECHO}-flows`),
    spec: {
      podSelector: { matchLabels: { app: ECHO } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'gateway' } } }], ports: [{ port: ECHO_PORT }] }],
      egress: [],
    },
  },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(`gateway-to-${ECHO}`),
    spec: {
      podSelector: { matchLabels: { app: 'gateway' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: { app: ECHO } } }], ports: [{ port: ECHO_PORT }] }],
    },
  },
];
process.stdout.write(objects.map((o) => toYaml(o)).join('---\n'));
