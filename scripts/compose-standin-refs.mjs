// The Compose lane's view of the image pins (scripts/compose-run.sh, scripts/compose-images.sh). Stand-ins are
// built here and cannot have the pinned digest, so inside the lane they are tagged name:tag and Compose runs with
// a generated override per file that drops the digest; the committed Compose files keep their pins.
//   node scripts/compose-standin-refs.mjs images <compose file>...        every image named, digest dropped, once
//   node scripts/compose-standin-refs.mjs overrides <out dir> <file>...   <out dir>/<name>.nodigest.yml per file
//                                                                         (only the services pinned by digest),
//                                                                         each path printed for `-f`
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, stringify } from 'yaml';

const [mode, ...args] = process.argv.slice(2);
const services = (file) => Object.entries(parse(readFileSync(file, 'utf8')).services ?? {});
const undigested = (image) => image.replace(/@sha256:[0-9a-f]{64}$/, '');

if (mode === 'images') {
  const seen = new Set();
  for (const file of args) for (const [, s] of services(file)) if (s.image && !s.build) seen.add(undigested(s.image));
  for (const image of [...seen].sort()) console.log(image);
} else if (mode === 'overrides') {
  const [out, ...files] = args;
  mkdirSync(out, { recursive: true });
  for (const file of files) {
    const pinned = Object.fromEntries(
      services(file)
        .filter(([, s]) => s.image && undigested(s.image) !== s.image)
        .map(([name, s]) => [name, { image: undigested(s.image) }]),
    );
    const path = join(out, basename(file).replace(/\.yml$/, '.nodigest.yml'));
    writeFileSync(path, stringify({ services: pinned }));
    console.log(path);
  }
} else {
  console.error('usage: compose-standin-refs.mjs images <file>... | overrides <out dir> <file>...');
  process.exit(2);
}
