import { isIP } from 'node:net';
import { z } from 'zod';

/** `203.0.113.7`, `10.0.0.0/8`, `fd00::/8`: an IPv4 or IPv6 address, or a CIDR block. */
function isAddressOrCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash === -1) return isIP(s) !== 0;
  const family = isIP(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  return family !== 0 && /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** One trusted-proxy entry: an address or a CIDR block. */
export const addressOrCidr = z
  .string()
  .refine(isAddressOrCidr, { message: 'expected an IP address or a CIDR block such as 10.0.0.0/8' });

/** The same list in an environment variable: comma-separated, empty for none. */
export const addressListEnv = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(addressOrCidr));

/**
 * The Compose data network's fixed subnet (`prism-data`). Consul sits on three Compose networks and must be told
 * which address is its own (it refuses to choose among several private ones); a known subnet lets its
 * configuration name it. Outside the default address pools of Docker (172.17-31.0.0/16, 192.168.0.0/16) and
 * Podman (10.88-89.x), so neither engine hands it to another network.
 */
export const COMPOSE_DATA_SUBNET = '10.213.42.0/24';
