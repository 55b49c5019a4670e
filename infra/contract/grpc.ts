/** The gRPC APIs between Prism's services: the fully qualified service name and its proto file (under services/proto). */
export const GRPC_APIS = {
  auth: { service: 'prism.auth.v1.AuthService', proto: 'prism/auth/v1/auth.proto' },
  config: { service: 'prism.config.v1.ConfigService', proto: 'prism/config/v1/config.proto' },
  dbmanager: { service: 'prism.dbmanager.v1.DbManager', proto: 'prism/dbmanager/v1/dbmanager.proto' },
} as const;
