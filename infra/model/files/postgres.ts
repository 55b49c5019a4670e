/**
 * pg_hba.conf of Prism's PostgreSQL servers. The image's own file admits `host all all all` only,
 * which does not cover replication connections, so the DB manager's pg_basebackup and
 * pg_receivewal (from their own pod) would be refused. Passwords (SCRAM) everywhere but the
 * container's own socket, which the image's init scripts and probes use.
 */
export function pgHbaConf(replicationUser: string): string {
  return `# Rendered from the Prism platform model; do not edit by hand.
# TYPE  DATABASE     USER   ADDRESS  METHOD
local   all          all             trust
host    all          all    all      scram-sha-256
host    replication  ${replicationUser}  all      scram-sha-256
`;
}
