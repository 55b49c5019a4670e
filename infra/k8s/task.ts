import { Construct } from 'constructs';
import * as k8s from './imports/k8s.js';
import type { Component, Platform, Task } from '../model/index.js';
import { componentLabels } from './labels.js';
import { podSpec } from './pod.js';

export interface TaskRunnerProps {
  readonly platform: Platform;
  readonly component: Component;
  readonly task: Task;
  readonly storageClass?: string;
}

/** The object name of a task: one-shot Jobs carry the image tag, since a Job's pod template is immutable. */
function taskObjectName(component: Component, task: Task): string {
  if (task.schedule) return task.name;
  const tag = (task.image ?? component.image).tag.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return `${task.name}-${tag}`.slice(0, 63).replace(/-+$/, '');
}

/** A task of a component as a Job (one-shot) or CronJob (scheduled). */
export class TaskRunner extends Construct {
  constructor(scope: Construct, id: string, props: TaskRunnerProps) {
    super(scope, id);
    const { platform, component: c, task } = props;
    const name = taskObjectName(c, task);
    const labels = { ...componentLabels(task.name, c.layer, (task.image ?? c.image).tag), 'prism.io/task-of': c.name };
    const configMapName = `${task.name}-config`;
    if (task.configFiles?.length) {
      new k8s.KubeConfigMap(this, 'ConfigMap', {
        metadata: { name: configMapName, labels },
        data: Object.fromEntries(task.configFiles.map((f) => [f.name, f.content])),
      });
    }
    const template: k8s.PodTemplateSpec = {
      metadata: { labels },
      spec: podSpec(
        platform,
        c,
        {
          name: task.name,
          image: task.image ?? c.image,
          command: task.command ?? c.command,
          args: task.args,
          env: task.env ?? c.env,
          configFiles: task.configFiles ?? [],
          configMapName,
          storageClass: props.storageClass,
          writablePaths: task.writablePaths,
          // The component's CA certificate without its key: the task verifies PostgreSQL's certificate.
          ...(c.identity ? { meshCaDir: c.identity.mountPath } : {}),
        },
        { restartPolicy: 'OnFailure', serviceAccountName: c.name },
      ),
    };
    const job: k8s.JobSpec = { backoffLimit: 3, activeDeadlineSeconds: 6 * 3600, template };
    if (task.schedule) {
      new k8s.KubeCronJob(this, 'Resource', {
        metadata: { name, labels },
        spec: {
          schedule: task.schedule,
          timeZone: 'Etc/UTC',
          concurrencyPolicy: 'Forbid',
          startingDeadlineSeconds: 600,
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          jobTemplate: { metadata: { labels }, spec: job },
        },
      });
    } else {
      new k8s.KubeJob(this, 'Resource', { metadata: { name, labels }, spec: job });
    }
  }
}
