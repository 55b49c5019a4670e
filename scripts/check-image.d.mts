export function pinnedTini(dockerfile?: URL | string): string;
export const IMAGE_ENTRYPOINT: string[];
export function checkImage(
  service: string,
  root: string,
  config: unknown,
  o: { tiniVersion: string; entry: string; cmd?: readonly string[] },
): string[];
export function treeBytes(root: string): number;
export function checkPgPrograms(root: string, programs: readonly string[]): string[];
