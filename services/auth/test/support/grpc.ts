import { grpc, loadProto } from '#runtime';

/** A plaintext client of prism.auth.v1.AuthService with promise-returning methods. */
export function authClient(port: number) {
  const Auth = loadProto('prism/auth/v1/auth.proto').prism.auth.v1.AuthService;
  const client = new Auth(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (req: unknown, cb: (err: grpc.ServiceError | null, res: any) => void) => void
  > & {
    close(): void;
  };
  const unaryCall = (method: string) => (req: unknown) =>
    new Promise<any>((resolve, reject) =>
      client[method]!.call(client, req, (err, res) => (err ? reject(err) : resolve(res))),
    );
  return {
    validateToken: unaryCall('ValidateToken'),
    validateApiKey: unaryCall('ValidateApiKey'),
    getUser: unaryCall('GetUser'),
    close: () => client.close(),
  };
}

export function healthClient(port: number) {
  const Health = loadProto('grpc/health/v1/health.proto').grpc.health.v1.Health;
  const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as {
    Check(req: unknown, cb: (err: grpc.ServiceError | null, res: any) => void): void;
    close(): void;
  };
  return {
    check: (service = '') =>
      new Promise<any>((resolve, reject) =>
        client.Check({ service }, (err, res) => (err ? reject(err) : resolve(res))),
      ),
    close: () => client.close(),
  };
}
