import { listStacks, loadStack } from '../../config/index.js';
import { environmentApp } from './platform.js';

/** Every environment found in `stacksDir`, synthesized to `<outdir>/<env>/`; returns their names. */
export function synthesizeEnvironments(stacksDir: string, outdir: string): string[] {
  const names = listStacks(stacksDir);
  for (const name of names) environmentApp(loadStack(stacksDir, name), outdir).app.synth();
  return names;
}
