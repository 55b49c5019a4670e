import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, waitFor } from '../../../runtime/test/support/net.js';

/** A private redis-server a test may stop and start again (the shared test Redis is never stopped). */
export class PrivateRedis {
  readonly password = 'private-test';
  private proc: ChildProcess | undefined;
  port = 0;

  async start(): Promise<this> {
    if (!this.port) this.port = await freePort();
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--requirepass', this.password, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor('private redis', async () => {
      const r = new Redis({ port: this.port, host: '127.0.0.1', password: this.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        return (await r.ping()) === 'PONG' || undefined;
      } finally {
        r.disconnect();
      }
    });
    return this;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}
