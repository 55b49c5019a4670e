// The Compose lane's view of the image pins (scripts/compose-run.sh, scripts/compose-images.sh). Stand-ins are
// built here and cannot have the pinned digest, so inside the lane they are tagged name:tag and Compose runs with
// a generated override per file that drops the digest; the committed Compose files keep their pins.
//   node scripts/compose-standin-refs.mjs images <compose file>...        every image named, digest dropped, once
//   node scripts/compose-standin-refs.mjs built <compose file>...         every image Compose builds (the Prism ones)
//   node scripts/compose-standin-refs.mjs manifests <dir>                 every image the Kubernetes manifests in <dir>
//                                                                         name (the real-pods lane's), digest dropped;
//                                                                         with --pinned, those pinned by digest, as named
//   node scripts/compose-standin-refs.mjs overrides <out dir> <file>...   <out dir>/<name>.nodigest.yml per file
//                                                                         (only the services pinned by digest),
//                                                                         each path printed for `-f`
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';

const [mode, ...args] = process.argv.slice(2);
const services = (file) => Object.entries(parse(readFileSync(file, 'utf8')).services ?? {});
const undigested = (image) => image.replace(/@sha256:[0-9a-f]{64}$/, '');
const print = (images) => [...new Set(images)].sort().forEach((image) => console.log(image));
// Every container's image of a manifest's pod template (workloads, CronJobs' jobs, bare pods), init containers too.
const podImages = (object) => {
  const spec =
    object?.spec?.jobTemplate?.spec?.template?.spec ??
    object?.spec?.template?.spec ??
    (object?.kind === 'Pod' ? object.spec : undefined);
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((c) => c.image);
};

if (mode === 'images') {
  print(
    args.flatMap((file) =>
      services(file)
        .filter(([, s]) => s.image && !s.build)
        .map(([, s]) => undigested(s.image)),
    ),
  );
} else if (mode === 'built') {
  print(
    args.flatMap((file) =>
      services(file)
        .filter(([, s]) => s.image && s.build)
        .map(([, s]) => s.image),
    ),
  );
} else if (mode === 'manifests') {
  const [dir, pinned] = args;
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  const docs = files.flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()));
  const images = docs.flatMap(podImages);
  print(pinned === '--pinned' ? images.filter((i) => undigested(i) !== i) : images.map(undigested));
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
  console.error(
    'usage: compose-standin-refs.mjs images|built <file>... | manifests <dir> [--pinned] | overrides <out dir> <file>...',
  );
  process.exit(2);
}
