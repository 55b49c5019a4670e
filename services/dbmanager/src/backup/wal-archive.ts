import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import pg from 'pg';
import { type BackupStore, sha256Hex } from '../storage/object-store.js';
import type { BackupCatalog } from './catalog.js';
import { keys } from './layout.js';
import { type DbTarget, connectionConfig, libpqEnv, run } from './pg-tools.js';
import { HISTORY_NAME, SEGMENT_NAME, formatLsn, parseLsn, parseSegmentName, segmentName } from './wal-names.js';

const gzipAsync = promisify(gzip);

/**
 * Continuous WAL archiving without touching the database server's image: the DB manager streams
 * WAL with `pg_receivewal` through a physical replication slot (so the server keeps every segment
 * until it has been received, even while the DB manager is down) and uploads each completed
 * segment, gzipped, with the SHA-256 of its content, then records it in the catalog.
 */
export interface WalArchiverOptions {
  readonly target: DbTarget;
  readonly store: BackupStore;
  readonly catalog: BackupCatalog;
  readonly pgBin: string;
  /** Local spool of received segments (emptied as they are uploaded). */
  readonly spoolDir: string;
  /** @default prism_wal_archive */
  readonly slot?: string;
  readonly log?: (line: string) => void;
}

export interface ArchiveResult {
  readonly segments: readonly string[];
  readonly bytesStored: number;
  /** The WAL position every byte before which is now in object storage. */
  readonly archivedUpTo: string;
}

export class WalArchiver {
  readonly slot: string;
  private receiver: ChildProcess | undefined;
  private uploadTimer: NodeJS.Timeout | undefined;
  private uploading: Promise<string[]> = Promise.resolve([]);
  private stopped = false;
  private systemId: string | undefined;

  constructor(private readonly options: WalArchiverOptions) {
    this.slot = options.slot ?? 'prism_wal_archive';
  }

  private async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = new pg.Client(connectionConfig(this.options.target));
    await c.connect();
    try {
      return (await c.query<T>(sql, params)).rows;
    } finally {
      await c.end();
    }
  }

  /**
   * Creates the replication slot (reserving WAL from now on) unless it exists, and reads the
   * cluster's system identifier, under which its WAL is stored.
   */
  async ensureSlot(): Promise<void> {
    await this.query(
      `SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`,
      [this.slot],
    );
    const [row] = await this.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    this.systemId = row!.id;
  }

  /** The key of an archived WAL file of this cluster (ensureSlot has read its system identifier). */
  private walKey(file: string): string {
    if (!this.systemId) throw new Error("the WAL archiver has not read the cluster's system identifier yet");
    return keys.wal(this.options.target.id, this.systemId, file);
  }

  async segmentSize(): Promise<number> {
    const [row] = await this.query<{ s: string }>(
      `SELECT setting AS s FROM pg_settings WHERE name = 'wal_segment_size'`,
    );
    return Number(row!.s);
  }

  /**
   * Makes sure all WAL written so far is in object storage: switches to a new segment, then
   * either receives up to that point itself or, when the continuous archiver holds the slot,
   * waits for that archiver to upload the switched segment.
   */
  async archiveOnce(timeoutMs = 120_000): Promise<ArchiveResult> {
    await this.ensureSlot();
    await mkdir(this.options.spoolDir, { recursive: true });
    const segSize = BigInt(await this.segmentSize());
    const [sw] = await this.query<{ lsn: string }>('SELECT pg_switch_wal()::text AS lsn');
    // One small record after the switch moves the server's flush position past the boundary, so
    // the WAL sender hands pg_receivewal the end of the switched segment now rather than at its
    // next keepalive (seconds later).
    await this.query(`SELECT pg_logical_emit_message(false, 'prism.wal-archive', '')`);
    // The switched segment is complete at the next segment boundary.
    const end = ((parseLsn(sw!.lsn) + segSize - 1n) / segSize) * segSize;
    const endLsn = formatLsn(end);
    const waitForArchiver = async (): Promise<ArchiveResult> => {
      this.log(
        `${this.options.target.id}: the continuous archiver holds slot ${this.slot}; waiting for it to store WAL up to ${endLsn}`,
      );
      const [last] = await this.query<{ n: string }>(`SELECT pg_walfile_name($1::pg_lsn - 1) AS n`, [endLsn]);
      const deadline = Date.now() + timeoutMs;
      while (!(await this.options.store.head(this.walKey(last!.n)))) {
        if (Date.now() > deadline)
          throw new Error(
            `${this.options.target.id}: WAL segment ${last!.n} was not archived within ${timeoutMs / 1000} s; is the DB manager's archiver running?`,
          );
        await new Promise((r) => setTimeout(r, 250));
      }
      return { segments: [], bytesStored: 0, archivedUpTo: endLsn };
    };
    const [slot] = await this.query<{ active: boolean }>(
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [this.slot],
    );
    if (slot?.active) return waitForArchiver();
    await this.clearPartials();
    try {
      await run(
        join(this.options.pgBin, 'pg_receivewal'),
        ['-D', this.options.spoolDir, '-S', this.slot, '--endpos', endLsn, '--no-loop', '--no-password'],
        {
          env: libpqEnv(this.options.target),
        },
      );
    } catch (e) {
      // The continuous archiver took the slot between our check and our connection.
      if (/is active for PID/.test((e as Error).message)) return waitForArchiver();
      throw e;
    }
    const segments = await this.uploadCompleted();
    let bytes = 0;
    for (const s of segments) bytes += (await this.options.store.head(this.walKey(s)))?.size ?? 0;
    return { segments, bytesStored: bytes, archivedUpTo: endLsn };
  }

  /**
   * Removes the unfinished segment pg_receivewal left behind. Without it, pg_receivewal resumes
   * from the replication slot, which is authoritative: the server keeps every segment the slot has
   * not passed and streaming restarts at a segment boundary. A leftover from an older timeline
   * (after a restore) or another cluster would otherwise make pg_receivewal ask for WAL the server
   * does not have.
   */
  private async clearPartials(): Promise<void> {
    for (const f of await readdir(this.options.spoolDir))
      if (f.endsWith('.partial')) await unlink(join(this.options.spoolDir, f));
  }

  /**
   * A segment received but lost before upload (the spool is scratch space) leaves a hole the slot
   * cannot refill: say so at start-up. Dry runs and restores report the same gap; a new full
   * backup makes point-in-time recovery from then on whole again.
   */
  private async reportGap(): Promise<void> {
    const [row] = await this.query<{ lsn: string | null; seg: string | null }>(
      'SELECT restart_lsn::text AS lsn, pg_walfile_name(restart_lsn) AS seg FROM pg_replication_slots WHERE slot_name = $1',
      [this.slot],
    );
    if (!row?.lsn || !row.seg) return;
    const segSize = await this.segmentSize();
    // pg_walfile_name names the segment before a boundary; the slot resumes in the one at it.
    const resume = {
      timeline: parseSegmentName(row.seg, segSize).timeline,
      segno: parseLsn(row.lsn) / BigInt(segSize),
    };
    const resumeName = segmentName(resume.timeline, resume.segno, segSize);
    let last: bigint | undefined;
    const prefix = keys.walTimeline(this.options.target.id, this.systemId!, resume.timeline);
    for await (const o of this.options.store.list(prefix)) {
      const name = o.key.slice(prefix.length).replace(/\.gz$/, '');
      if (!SEGMENT_NAME.test(name)) continue;
      const p = parseSegmentName(name, segSize);
      if (last === undefined || p.segno > last) last = p.segno;
    }
    if (last !== undefined && resume.segno > last + 1n) {
      this.log(
        `${this.options.target.id}: WAL GAP: the archive ends at segment ${segmentName(resume.timeline, last, segSize)} but the slot resumes at ${resumeName}; ` +
          'the segments between were lost before upload. Take a full backup now.',
      );
    }
  }

  /** Uploads the completed segments and timeline history files of the spool, oldest first. */
  async uploadCompleted(): Promise<string[]> {
    const run = async (): Promise<string[]> => {
      const files = (await readdir(this.options.spoolDir))
        .filter((f) => SEGMENT_NAME.test(f) || HISTORY_NAME.test(f))
        .sort();
      const done: string[] = [];
      for (const f of files) {
        const path = join(this.options.spoolDir, f);
        const content = await readFile(path);
        // A spool on persistent scratch space may still hold a segment of the cluster this one
        // replaced: it belongs under the other system identifier, which this archiver cannot vouch for.
        const writer =
          SEGMENT_NAME.test(f) && content.length >= 32 ? content.readBigUInt64LE(24).toString() : this.systemId;
        if (writer !== this.systemId) {
          this.log(
            `${this.options.target.id}: WAL ${f} in the spool was written by the cluster ${writer}, not ${this.systemId}; set aside as ${f}.foreign`,
          );
          await rename(path, `${path}.foreign`);
          continue;
        }
        const sha256 = sha256Hex(content);
        await this.options.store.putBuffer(this.walKey(f), await gzipAsync(content, { level: 6 }), {
          sha256,
          'original-size': String(content.length),
        });
        await this.options.catalog.recordWalSegment(this.options.target.id, f, content.length, sha256);
        await unlink(path);
        done.push(f);
        this.log(`${this.options.target.id}: archived WAL ${f}`);
      }
      return done;
    };
    // One upload pass at a time: the timer and archiveOnce may ask together.
    this.uploading = this.uploading.then(run, run);
    return this.uploading;
  }

  /** Streams WAL continuously (restarting pg_receivewal when it stops) and uploads every 2 s. */
  async start(): Promise<void> {
    await this.ensureSlot();
    await mkdir(this.options.spoolDir, { recursive: true });
    await this.reportGap().catch((e: Error) =>
      this.log(`${this.options.target.id}: could not compare the archive with the slot: ${e.message}`),
    );
    this.stopped = false;
    const launch = async () => {
      if (this.stopped) return;
      await this.clearPartials().catch(() => {});
      if (this.stopped) return;
      const child = spawn(
        join(this.options.pgBin, 'pg_receivewal'),
        ['-D', this.options.spoolDir, '-S', this.slot, '--no-password'],
        {
          env: libpqEnv(this.options.target),
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      child.stderr?.on('data', (d: Buffer) =>
        this.log(`${this.options.target.id}: pg_receivewal: ${d.toString().trim()}`),
      );
      child.on('close', (code) => {
        this.receiver = undefined;
        if (!this.stopped) {
          this.log(`${this.options.target.id}: pg_receivewal stopped (${code}); restarting in 2 s`);
          setTimeout(() => void launch(), 2000).unref();
        }
      });
      this.receiver = child;
    };
    await launch();
    this.uploadTimer = setInterval(() => {
      this.uploadCompleted().catch((e: Error) =>
        this.log(`${this.options.target.id}: WAL upload failed, will retry: ${e.message}`),
      );
    }, 2000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.uploadTimer) clearInterval(this.uploadTimer);
    const child = this.receiver;
    if (child) {
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await closed;
    }
    await this.uploadCompleted().catch(() => []);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}
