import { z } from 'zod';
import { isIPv4, isIPv6 } from 'node:net';

/** A CIDR block split into address and prefix length; undefined when it is not one. */
function parseCidr(
  text: string,
): { readonly address: string; readonly prefix: number; readonly family: 4 | 6 } | undefined {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const [, address, bits] = m as unknown as [string, string, string];
  const prefix = Number(bits);
  if (isIPv4(address) && prefix <= 32) return { address, prefix, family: 4 };
  if (isIPv6(address) && prefix <= 128) return { address, prefix, family: 6 };
  return undefined;
}

/** A CIDR block in stack configuration; never the whole address space (that would be "the internet"). */
export const cidrBlock = z
  .string()
  .refine((c) => parseCidr(c) !== undefined, {
    message: 'expected a CIDR block such as 10.0.0.0/16 or 192.168.1.10/32',
  })
  .refine((c) => parseCidr(c)?.prefix !== 0, { message: 'expected a bounded range, not the whole address space' });
