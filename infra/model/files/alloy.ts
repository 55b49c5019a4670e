/**
 * Grafana Alloy configurations (the Alloy configuration syntax) that ship logs to Loki with the
 * labels Promtail gave them: namespace, pod, container, app, node and the log line's level.
 * Kubernetes tails the pod log files of its node; Compose reads containers through Docker.
 */

/** Alloy's string literal: JSON's escaping is Alloy's. */
const str = (s: string): string => JSON.stringify(s);
const list = (xs: readonly string[]): string => `[${xs.map(str).join(', ')}]`;

interface Rule {
  readonly source: readonly string[];
  readonly target: string;
  readonly regex?: string;
  readonly separator?: string;
  readonly replacement?: string;
}

function rule(r: Rule): string {
  const lines = [`    source_labels = ${list(r.source)}`];
  if (r.separator !== undefined) lines.push(`    separator     = ${str(r.separator)}`);
  if (r.regex !== undefined) lines.push(`    regex         = ${str(r.regex)}`);
  if (r.replacement !== undefined) lines.push(`    replacement   = ${str(r.replacement)}`);
  lines.push(`    target_label  = ${str(r.target)}`);
  return ['  rule {', ...lines, '  }'].join('\n');
}

const block = (header: string, body: readonly string[]): string => [`${header} {`, ...body, '}'].join('\n');

/** JSON log lines: `level` becomes a label (few values), the request id stays in the line. */
function processAndWrite(lokiPushUrl: string, cri: boolean): string[] {
  return [
    block('loki.process "logs"', [
      ...(cri ? ['  stage.cri {}', ''] : []),
      '  stage.json {',
      '    expressions = { level = "level", request_id = "reqId" }',
      '  }',
      '',
      '  stage.labels {',
      '    values = { level = "" }',
      '  }',
      '',
      '  forward_to = [loki.write.loki.receiver]',
    ]),
    block('loki.write "loki"', ['  endpoint {', `    url = ${str(lokiPushUrl)}`, '  }']),
  ];
}

const HEADER = '// Rendered from the Prism platform model; do not edit by hand.';

/** The node's own pods of the platform namespace, from their log files; the node name comes from `NODE_NAME`. */
export function alloyKubernetesConfig(o: {
  readonly namespace: string;
  readonly lokiPushUrl: string;
  readonly podLogsDir: string;
}): string {
  const parts = [
    HEADER,
    block('discovery.kubernetes "pods"', [
      '  role = "pod"',
      '',
      '  namespaces {',
      `    names = ${list([o.namespace])}`,
      '  }',
      '',
      "  // Only this node's pods: their log files are the ones mounted here.",
      '  selectors {',
      '    role  = "pod"',
      '    field = "spec.nodeName=" + sys.env("NODE_NAME")',
      '  }',
    ]),
    block('discovery.relabel "pods"', [
      '  targets = discovery.kubernetes.pods.targets',
      '',
      rule({ source: ['__meta_kubernetes_namespace'], target: 'namespace' }),
      rule({ source: ['__meta_kubernetes_pod_name'], target: 'pod' }),
      rule({ source: ['__meta_kubernetes_pod_container_name'], target: 'container' }),
      rule({ source: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'], target: 'app' }),
      rule({ source: ['__meta_kubernetes_pod_node_name'], target: 'node' }),
      rule({
        source: ['__meta_kubernetes_pod_uid', '__meta_kubernetes_pod_container_name'],
        separator: '/',
        replacement: `${o.podLogsDir}/*$1/*.log`,
        target: '__path__',
      }),
    ]),
    block('local.file_match "pods"', ['  path_targets = discovery.relabel.pods.output']),
    block('loki.source.file "pods"', [
      '  targets    = local.file_match.pods.targets',
      '  forward_to = [loki.process.logs.receiver]',
    ]),
    ...processAndWrite(o.lokiPushUrl, true),
  ];
  return `${parts.join('\n\n')}\n`;
}

/** Every container of the Compose project, through the Docker API (read-only socket). */
export function alloyDockerConfig(o: {
  readonly project: string;
  readonly dockerHost: string;
  readonly lokiPushUrl: string;
}): string {
  const parts = [
    HEADER,
    block('discovery.docker "containers"', [
      `  host = ${str(o.dockerHost)}`,
      '',
      '  filter {',
      '    name   = "label"',
      `    values = ${list([`com.docker.compose.project=${o.project}`])}`,
      '  }',
    ]),
    block('discovery.relabel "containers"', [
      '  targets = []',
      '',
      rule({ source: ['__meta_docker_container_label_com_docker_compose_project'], target: 'namespace' }),
      rule({ source: ['__meta_docker_container_name'], regex: '/(.*)', target: 'pod' }),
      rule({ source: ['__meta_docker_container_label_com_docker_compose_service'], target: 'container' }),
      rule({ source: ['__meta_docker_container_label_com_docker_compose_service'], target: 'app' }),
    ]),
    block('loki.source.docker "containers"', [
      `  host          = ${str(o.dockerHost)}`,
      '  targets       = discovery.docker.containers.targets',
      '  relabel_rules = discovery.relabel.containers.rules',
      '  forward_to    = [loki.process.logs.receiver]',
    ]),
    ...processAndWrite(o.lokiPushUrl, false),
  ];
  return `${parts.join('\n\n')}\n`;
}
