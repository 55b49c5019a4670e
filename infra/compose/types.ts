/**
 * The part of the Compose Specification the renderer writes. Field names are the
 * specification's own; every file is also validated against its JSON schema in the tests.
 */

export interface ComposeHealthcheck {
  readonly test: readonly string[];
  readonly interval: string;
  readonly timeout: string;
  readonly retries: number;
  readonly start_period: string;
}

export interface ComposePort {
  readonly target: number;
  readonly published: number;
  readonly host_ip: string;
  readonly protocol: 'tcp' | 'udp';
}

export interface ComposeBuild {
  readonly context: string;
  readonly dockerfile: string;
  readonly args: Readonly<Record<string, string>>;
  readonly target: string;
}

export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

interface ComposeServiceSecret {
  readonly source: string;
  readonly target: string;
}

export interface ComposeService {
  readonly image: string;
  readonly build?: ComposeBuild;
  readonly container_name?: string;
  readonly entrypoint?: readonly string[];
  readonly command?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly ports?: readonly ComposePort[];
  readonly expose?: readonly string[];
  readonly networks?: readonly string[];
  readonly network_mode?: 'none';
  readonly depends_on?: Readonly<Record<string, { readonly condition: DependsCondition }>>;
  readonly healthcheck?: ComposeHealthcheck;
  readonly volumes?: readonly string[];
  readonly secrets?: readonly ComposeServiceSecret[];
  readonly tmpfs?: readonly string[];
  readonly user: string;
  readonly read_only: boolean;
  readonly cap_drop: readonly string[];
  readonly cap_add?: readonly string[];
  readonly security_opt: readonly string[];
  readonly mem_limit?: string;
  readonly mem_reservation?: string;
  readonly cpus?: number;
  readonly stop_grace_period?: string;
  readonly restart: 'unless-stopped' | 'no';
  readonly labels: Readonly<Record<string, string>>;
}

export interface ComposeNetwork {
  readonly name: string;
  readonly driver: 'bridge';
  readonly internal?: boolean;
  readonly ipam?: { readonly config: readonly { readonly subnet: string }[] };
}

export interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>;
  readonly networks?: Readonly<Record<string, ComposeNetwork>>;
  readonly volumes?: Readonly<Record<string, Record<string, never>>>;
  readonly secrets?: Readonly<Record<string, { readonly file: string }>>;
}
