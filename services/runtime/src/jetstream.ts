import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import type { Logger } from './logger.js';

/**
 * Creates a JetStream stream with `replicas` copies, or raises the replicas of an existing one
 * that has fewer (a stream made before the cluster grew, or by an older release). JetStream
 * replicates a stream across the cluster on update; it never lowers them here, so a stream an
 * operator raised further keeps its copies. Where the NATS user may not update streams (every
 * service's, in the platform), an existing stream is kept as it is, with a warning.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { readonly name: string },
  replicas: number,
  log: Logger,
): Promise<'created' | 'raised' | 'kept'> {
  const existing = await jsm.streams.info(config.name).catch((e: Error) => {
    if (/stream not found/i.test(e.message)) return undefined;
    throw e;
  });
  if (!existing) {
    await jsm.streams.add({ ...config, num_replicas: replicas });
    log.info({ stream: config.name, replicas }, 'JetStream stream created');
    return 'created';
  }
  const had = existing.config.num_replicas ?? 1;
  if (had >= replicas) return 'kept';
  try {
    await jsm.streams.update(config.name, { ...existing.config, num_replicas: replicas });
  } catch (e) {
    // A service's NATS user may create its stream, never change it (lowering limits would empty it).
    if (!/permissions violation/i.test((e as Error).message)) throw e;
    log.warn(
      { stream: config.name, has: had, wanted: replicas },
      'JetStream stream has fewer replicas than configured and this identity may not change it; an operator raises them (docs/security.md)',
    );
    return 'kept';
  }
  log.info({ stream: config.name, from: had, to: replicas }, 'JetStream stream replicas raised');
  return 'raised';
}
