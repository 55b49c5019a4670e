// Writes a copy of a stack file with settings applied as `pulumi config set --path <key> <value>` applies them
// (`prism:a.b[0].c`; values read as YAML scalars, as the stack schema parses Pulumi's strings), so the lane renders
// the manifests it will deploy. Usage: node scripts/cluster/stack-settings.mjs <stack file> <copy> < settings
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, parseDocument } from 'yaml';

const [from, to] = process.argv.slice(2);
const doc = parseDocument(readFileSync(from, 'utf8'));
for (const line of readFileSync(0, 'utf8').split('\n')) {
  const [key, ...rest] = line.trim().split(/\s+/);
  if (!key) continue;
  const [top, ...path] = key.split('.');
  const keys = path.flatMap((p) =>
    p
      .split(/\[(\d+)\]/)
      .filter(Boolean)
      .map((k) => (/^\d+$/.test(k) ? Number(k) : k)),
  );
  doc.setIn(['config', top, ...keys], parse(rest.join(' ')));
}
writeFileSync(to, doc.toString());
