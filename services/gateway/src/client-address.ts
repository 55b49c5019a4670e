import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, type Socket } from 'node:net';

const TRUSTED = Symbol('prism.trustedPeer');
type MarkedSocket = Socket & { [TRUSTED]?: boolean };

/** `::ffff:10.0.0.1` (an IPv4 peer of a dual-stack socket) → `10.0.0.1`. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The client address of a request: the socket's peer, or, when the peer is one of the trusted
 * proxies, the right-most `X-Forwarded-For` hop that is not a trusted proxy. Each proxy appends the
 * address it received the request from, so everything left of that hop was written by the client
 * (or by proxies it chose) and cannot be believed. With no trusted proxies the header is never read.
 */
export class ClientAddress {
  private readonly list = new BlockList();
  private readonly any: boolean;

  constructor(trustedProxies: readonly string[]) {
    for (const entry of trustedProxies) {
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, Number(bits), family);
    }
    this.any = trustedProxies.length > 0;
  }

  private trusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  of(req: IncomingMessage): string {
    const socket = req.socket as MarkedSocket;
    const peer = plain(socket.remoteAddress ?? 'unknown');
    if (!this.any) return peer;
    // Decided once per connection (keep-alive connections carry many requests).
    let trustedPeer = socket[TRUSTED];
    if (trustedPeer === undefined) trustedPeer = socket[TRUSTED] = this.trusted(peer);
    if (!trustedPeer) return peer;
    const xff = req.headers['x-forwarded-for'];
    if (typeof xff !== 'string' || xff === '') return peer;
    let hop = peer;
    let end = xff.length;
    while (end > 0) {
      const start = xff.lastIndexOf(',', end - 1);
      const entry = plain(xff.slice(start + 1, end).trim());
      // A hop that is not an address is not believed: the client is the last proxy that wrote it.
      if (isIP(entry) === 0) return hop;
      if (!this.trusted(entry)) return entry;
      hop = entry;
      end = start === -1 ? 0 : start;
    }
    return hop;
  }
}
