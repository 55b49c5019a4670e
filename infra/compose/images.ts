import { type Image } from '../model/index.js';

class UnknownImageError extends Error {
  override name = 'UnknownImageError';
}

/** The healthcheck `test` that GETs `url` inside a container of `image`, with the tool the model says it carries (the URL is always the last argument when there is one). */
export function httpCheckCommand(image: Image, url: string): string[] {
  switch (image.tools.httpCheck) {
    case 'wget':
      return ['CMD', 'wget', '-q', '-O', '/dev/null', url];
    case 'node':
      return [
        'CMD',
        'node',
        '-e',
        'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))',
        url,
      ];
    case 'silo-ready':
      return ['CMD', 'silo', 'healthcheck', 'ready'];
    case 'bash-tcp': {
      const u = new URL(url);
      const request = `GET ${u.pathname}${u.search} HTTP/1.0\\r\\nHost: ${u.hostname}\\r\\n\\r\\n`;
      return [
        'CMD',
        'bash',
        '-c',
        `exec 3<>/dev/tcp/${u.hostname}/${u.port} && printf '${request}' >&3 && head -n 1 <&3 | grep -q ' 200 '`,
        url,
      ];
    }
    case 'scratch':
    case 'none':
      throw new UnknownImageError(
        `compose renderer: image ${image.repository} has no HTTP client for a probe of ${url}`,
      );
  }
}
