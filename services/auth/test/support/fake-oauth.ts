import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local OAuth 2.0 provider speaking Google's and GitHub's dialects well enough for the
 * authorization-code flow: exact redirect URI match, PKCE S256 check, single-use codes, client
 * authentication, and user-info endpoints. No network beyond 127.0.0.1.
 */
interface FakeUser {
  readonly id: string;
  readonly email: string;
  readonly verified: boolean;
  readonly name: string;
}

interface Grant {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly challenge: string;
  readonly user: FakeUser;
  used: boolean;
}

export interface FakeProvider {
  readonly base: string;
  /** The account that "signs in" at the next authorization. */
  nextUser: FakeUser;
  /** Token requests seen, for assertions (client secret and verifier included). */
  readonly tokenRequests: URLSearchParams[];
  endpoints(provider: 'google' | 'github'): {
    authorizeUrl: string;
    tokenUrl: string;
    userInfoUrl: string;
    emailsUrl?: string;
  };
  close(): Promise<void>;
}

export async function startFakeProvider(
  clients: Record<string, { secret: string; redirectUris: string[] }>,
): Promise<FakeProvider> {
  const grants = new Map<string, Grant>();
  const tokens = new Map<string, FakeUser>();
  const tokenRequests: URLSearchParams[] = [];
  const state = {
    nextUser: { id: '1001', email: 'someone@provider.test', verified: true, name: 'Some One' } as FakeUser,
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const [, dialect, endpoint, sub] = url.pathname.split('/');
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (endpoint === 'authorize' && req.method === 'GET') {
      const q = url.searchParams;
      const client = clients[q.get('client_id') ?? ''];
      const redirect = q.get('redirect_uri') ?? '';
      if (!client || !client.redirectUris.includes(redirect)) return json(400, { error: 'redirect_uri_mismatch' });
      if (
        q.get('response_type') !== 'code' ||
        q.get('code_challenge_method') !== 'S256' ||
        !q.get('code_challenge') ||
        !q.get('state')
      )
        return json(400, { error: 'invalid_request' });
      const code = randomBytes(16).toString('hex');
      grants.set(code, {
        clientId: q.get('client_id')!,
        redirectUri: redirect,
        challenge: q.get('code_challenge')!,
        user: state.nextUser,
        used: false,
      });
      const back = new URL(redirect);
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state')!);
      return res.writeHead(302, { location: back.toString() }).end();
    }
    if (endpoint === 'token' && req.method === 'POST') {
      const form = new URLSearchParams(await body(req));
      tokenRequests.push(form);
      const refuse = (error: string) => (dialect === 'github' ? json(200, { error }) : json(400, { error }));
      const grant = grants.get(form.get('code') ?? '');
      const client = clients[form.get('client_id') ?? ''];
      if (!client || client.secret !== form.get('client_secret')) return refuse('invalid_client');
      if (!grant || grant.used || grant.clientId !== form.get('client_id')) return refuse('invalid_grant');
      // A code is spent by its first exchange, successful or not.
      grant.used = true;
      if (grant.redirectUri !== form.get('redirect_uri')) return refuse('invalid_grant');
      const verifier = form.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return refuse('invalid_grant');
      const token = randomBytes(16).toString('hex');
      tokens.set(token, grant.user);
      return json(200, { access_token: token, token_type: 'bearer', scope: 'email' });
    }
    const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!user) return json(401, { error: 'invalid_token' });
    if (dialect === 'google' && endpoint === 'userinfo')
      return json(200, { sub: user.id, email: user.email, email_verified: user.verified, name: user.name });
    if (dialect === 'github' && endpoint === 'user' && !sub)
      return json(200, { id: Number(user.id), login: user.name.replace(/\s/g, ''), name: user.name, email: null });
    if (dialect === 'github' && endpoint === 'user' && sub === 'emails')
      return json(200, [
        { email: `unverified-${user.email}`, primary: false, verified: false },
        { email: user.email, primary: true, verified: user.verified },
      ]);
    return json(404, { error: 'not_found' });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    get nextUser() {
      return state.nextUser;
    },
    set nextUser(u: FakeUser) {
      state.nextUser = u;
    },
    tokenRequests,
    endpoints: (p) =>
      p === 'google'
        ? {
            authorizeUrl: `${base}/google/authorize`,
            tokenUrl: `${base}/google/token`,
            userInfoUrl: `${base}/google/userinfo`,
          }
        : {
            authorizeUrl: `${base}/github/authorize`,
            tokenUrl: `${base}/github/token`,
            userInfoUrl: `${base}/github/user`,
            emailsUrl: `${base}/github/user/emails`,
          },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}
