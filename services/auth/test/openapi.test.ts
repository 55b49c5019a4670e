import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, email, type Harness, PASSWORD, signUp, startHarness } from './support/harness.js';

let h: Harness;
let doc: any;
beforeAll(async () => {
  h = await startHarness();
  const r = await call(h.base, 'GET', '/auth/openapi.json');
  expect(r.status).toBe(200);
  doc = r.body;
});
afterAll(async () => {
  await h?.close();
});

const ROUTES = [
  'post /auth/register',
  'post /auth/login',
  'post /auth/refresh',
  'post /auth/logout',
  'get /auth/me',
  'post /auth/password',
  'get /auth/sessions',
  'delete /auth/sessions/{id}',
  'post /auth/api-keys',
  'get /auth/api-keys',
  'delete /auth/api-keys/{id}',
  'get /auth/oauth/{provider}/authorize',
  'post /auth/oauth/{provider}/link',
  'get /auth/oauth/{provider}/callback',
  'get /auth/.well-known/jwks.json',
];

describe('/auth/openapi.json', () => {
  it('is an OpenAPI 3.1 document of every route', () => {
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p}`),
    );
    expect(documented.sort()).toEqual([...ROUTES].sort());
    // The documented routes are the ones fastify serves (addRoutes registers and documents each definition).
    for (const r of ROUTES) {
      const [method, path] = r.split(' ');
      expect(h.app.hasRoute({ method: method!.toUpperCase(), url: path!.replace(/\{(\w+)\}/g, ':$1') }), r).toBe(true);
    }
    expect(doc.paths['/auth/sessions'].get.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/auth/sessions/{id}'].delete.parameters[0]).toMatchObject({
      name: 'id',
      in: 'path',
      required: true,
      schema: { format: 'uuid' },
    });
    expect(
      new Set(Object.values(doc.paths).flatMap((ops: any) => Object.values(ops).map((o: any) => o.operationId))).size,
    ).toBe(ROUTES.length);
  });

  it('describes the password policy and the strict bodies the server enforces', () => {
    const schema = doc.paths['/auth/register'].post.requestBody.content['application/json'].schema;
    expect(schema.required.sort()).toEqual(['email', 'password']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.password).toMatchObject({ type: 'string', minLength: 12, maxLength: 128 });
    expect(doc.paths['/auth/login'].post.responses['429'].headers['retry-after']).toBeDefined();
  });

  it('accepts and refuses exactly what the server accepts and refuses (same schemas)', async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const validate = ajv.compile(doc.paths['/auth/register'].post.requestBody.content['application/json'].schema);
    const samples: Record<string, unknown>[] = [
      { email: email(), password: PASSWORD },
      { email: email(), password: PASSWORD, display_name: 'Ada' },
      { email: email(), password: 'short' },
      { email: email(), password: 'x'.repeat(129) },
      { password: PASSWORD },
      { email: 'not-an-email', password: PASSWORD },
      { email: email(), password: PASSWORD, admin: true },
      { email: email(), password: 12345678901234 },
    ];
    for (const body of samples) {
      const r = await call(h.base, 'POST', '/auth/register', { body });
      expect([202, 400]).toContain(r.status);
      expect(validate(body), JSON.stringify(body)).toBe(r.status === 202);
    }
    // And responses match their documented schema.
    const validateAccepted = ajv.compile(
      doc.paths['/auth/register'].post.responses['202'].content['application/json'].schema,
    );
    const accepted = await call(h.base, 'POST', '/auth/register', { body: { email: email(), password: PASSWORD } });
    expect(validateAccepted(accepted.body)).toBe(true);
    const u = await signUp(h.base);
    const validateTokens = ajv.compile(
      doc.paths['/auth/login'].post.responses['200'].content['application/json'].schema,
    );
    const login = await call(h.base, 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } });
    expect(validateTokens(login.body)).toBe(true);
    const validateSessions = ajv.compile(
      doc.paths['/auth/sessions'].get.responses['200'].content['application/json'].schema,
    );
    expect(validateSessions((await call(h.base, 'GET', '/auth/sessions', { token: u.access_token })).body)).toBe(true);
  });
});
