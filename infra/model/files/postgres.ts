/**
 * pg_hba.conf of Prism's PostgreSQL servers. The image's own file admits `host all all all` only,
 * which does not cover replication connections, so the DB manager's pg_basebackup and
 * pg_receivewal (from their own pod) would be refused. Over TCP only TLS (`hostssl`) with a password
 * (SCRAM): a plaintext TCP client matches no line and is refused before it can send a password.
 * The container's own socket, which the image's init scripts and probes use, stays as it was.
 */
export function pgHbaConf(replicationUser: string): string {
  return `# Rendered from the Prism platform model; do not edit by hand.
# TYPE   DATABASE     USER   ADDRESS  METHOD
local    all          all             trust
hostssl  all          all    all      scram-sha-256
hostssl  replication  ${replicationUser}  all      scram-sha-256
`;
}
