// `node --import ./infra/cli/ts-loader.mjs file.ts`: runs the synth path's TypeScript (infra/, charts/) on
// Node's own type stripping (Node 22.18+, 23.6+), which starts several times faster than tsx: all it
// needs is the NodeNext-style `./x.js` specifiers resolved to the `./x.ts` files beside them. That code
// must therefore use erasable syntax only (no enums, namespaces or parameter properties). Without type
// stripping or module hooks in this Node, tsx does the whole job.
import module from 'node:module';

// V8's compiled code of every module kept on disk (<tmpdir>/node-compile-cache): the next run skips compiling
// the generated Kubernetes classes (infra/k8s/imports) and the rest.
module.enableCompileCache?.();

if (process.features.typescript && typeof module.registerHooks === 'function') {
  module.registerHooks({
    resolve(specifier, context, next) {
      try {
        return next(specifier, context);
      } catch (e) {
        if (!(specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts'))) throw e;
        return next(`${specifier.slice(0, -3)}.ts`, context);
      }
    },
  });
} else {
  await import('tsx');
}
