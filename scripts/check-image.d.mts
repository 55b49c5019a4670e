export function checkImage(service: string, root: string, config?: unknown, o?: { tiniVersion: string }): string[];
export function treeBytes(root: string): number;
