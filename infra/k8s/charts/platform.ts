import { App, type Chart, YamlOutputType } from 'cdk8s';
import type { Stack } from '../../config/index.js';
import { LogShipping } from '../log-shipping.js';
import { buildPlatform, type Platform } from '../../model/index.js';
import { BaseChart } from './base.js';
import { EdgeChart } from './edge.js';
import { LayerChart } from './layer.js';

export interface EnvironmentApp {
  readonly app: App;
  readonly platform: Platform;
  readonly charts: readonly Chart[];
}

/**
 * Every chart of one environment in its own cdk8s App, written to `<outdir>/<env>/`:
 * base (namespace, network baseline, secrets), data, core, observability, edge.
 */
export function environmentApp(stack: Stack, outdir: string): EnvironmentApp {
  const { config } = stack;
  const platform = buildPlatform(stack.name, config);
  const app = new App({ outdir: `${outdir}/${stack.name}`, yamlOutputType: YamlOutputType.FILE_PER_CHART });
  const base = new BaseChart(app, 'base', { platform, config });
  const logShipping = config.observability.enabled && config.observability.logShipping;
  const layer = (id: 'data' | 'core' | 'observability') =>
    new LayerChart(app, id, { platform, layer: id, storageClass: config.storage.storageClass, logShipping });
  const charts: Chart[] = [base, layer('data'), layer('core')];
  if (config.observability.enabled) {
    const obs = layer('observability');
    if (logShipping && platform.logShipper)
      new LogShipping(obs, 'LogShipping', { platform, shipper: platform.logShipper, apiServer: platform.apiServer! });
    charts.push(obs);
  }
  charts.push(new EdgeChart(app, 'edge', { platform }));
  for (const chart of charts.slice(1)) chart.addDependency(base);
  return { app, platform, charts };
}
