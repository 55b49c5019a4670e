/** WAL positions and segment file names (see PostgreSQL's xlog_internal.h). */

export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not a WAL position: "${lsn}" (expected X/Y in hexadecimal)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

const hex8 = (n: bigint) => n.toString(16).toUpperCase().padStart(8, '0');

export function segmentNumber(lsn: bigint, segmentSize: number): bigint {
  return lsn / BigInt(segmentSize);
}

export function segmentName(timeline: number, segno: bigint, segmentSize: number): string {
  const perId = 0x100000000n / BigInt(segmentSize);
  return `${hex8(BigInt(timeline))}${hex8(segno / perId)}${hex8(segno % perId)}`;
}

export function parseSegmentName(name: string, segmentSize: number): { timeline: number; segno: bigint } {
  const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
  if (!m) throw new Error(`not a WAL segment name: ${name}`);
  const perId = 0x100000000n / BigInt(segmentSize);
  return { timeline: Number.parseInt(m[1]!, 16), segno: BigInt(`0x${m[2]}`) * perId + BigInt(`0x${m[3]}`) };
}

export const SEGMENT_NAME = /^[0-9A-F]{24}$/;
export const HISTORY_NAME = /^[0-9A-F]{8}\.history$/;

/**
 * Checks the long page header at the start of a segment: the magic number of the WAL format,
 * the timeline and the page address must match the segment's name, and the system identifier the
 * cluster's, when given (catches a misplaced or truncated file, or another cluster's segment of
 * the same name, that a checksum of the object alone would not).
 */
export function checkSegmentHeader(
  name: string,
  data: Buffer,
  segmentSize: number,
  systemId?: string,
): string | undefined {
  if (data.length !== segmentSize) return `${name}: ${data.length} bytes, a segment has ${segmentSize}`;
  const { timeline, segno } = parseSegmentName(name, segmentSize);
  const tli = data.readUInt32LE(4);
  const pageaddr = data.readBigUInt64LE(8);
  const magic = data.readUInt16LE(0);
  if (magic < 0xd000 || magic > 0xdfff) return `${name}: not a WAL segment (page magic 0x${magic.toString(16)})`;
  if (tli !== timeline) return `${name}: first page is of timeline ${tli}`;
  if (pageaddr !== segno * BigInt(segmentSize))
    return `${name}: first page address ${formatLsn(pageaddr)} does not match the name`;
  // XLogLongPageHeaderData: the 20-byte short header, then xlp_sysid at the next 8-byte boundary.
  const sysid = data.readBigUInt64LE(24).toString();
  if (systemId !== undefined && sysid !== systemId)
    return `${name}: written by the cluster with system identifier ${sysid}, not ${systemId}`;
  return undefined;
}
