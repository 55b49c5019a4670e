export function packageOf(specifier: string): string | undefined;
export function importedPackages(codeDir: string): Set<string>;
export function installedPackages(nodeModules: string): string[];
export function reachedPackages(appDir: string, codeDir: string): { reached: Set<string>; missing: string[] };
export function unreachedPackages(appDir: string, codeDir: string): string[];
export function entryPackageJson(
  appDir: string,
  service: string,
): Promise<{
  name: string;
  version: string;
  private: true;
  type: 'module';
  main: string;
  imports?: Record<string, string>;
}>;
export function mapWithoutSources(file: string): boolean;
export function trimPackages(nodeModules: string): number;
