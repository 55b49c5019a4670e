export function packageOf(specifier: string): string | undefined;
export function importedPackages(codeDir: string): Set<string>;
export function installedPackages(nodeModules: string): string[];
export function reachedPackages(appDir: string, codeDir: string): { reached: Set<string>; missing: string[] };
export function unreachedPackages(appDir: string, codeDir: string): string[];
