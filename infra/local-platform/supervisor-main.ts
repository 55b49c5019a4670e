/** The supervisor process of a local platform (started by `up`): node --import tsx supervisor-main.ts <platform dir>. */
import { resolve } from 'node:path';
import { layout } from './layout.js';
import { supervise } from './supervisor.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: supervisor-main.ts <platform directory>');
await supervise(process.cwd(), layout(resolve(dir)));
