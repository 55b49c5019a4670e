/** How often a server's start wrapper looks for a renewed certificate (cert-manager renews 30 days before the end). */
export const TLS_RENEWAL_CHECK_SECONDS = 60;

/**
 * Shell lines (POSIX sh, busybox's too) for a server's start wrapper, before it execs the server: servers that read
 * their certificate only at start and on SIGHUP (PostgreSQL, nats-server) would serve the old one until it expired.
 * Every {@link TLS_RENEWAL_CHECK_SECONDS} s a background check compares the mounted certificate; when cert-manager
 * (the kubelet swaps the Secret's files) or an operator (Compose) replaced it, it runs `prepare` (if any) and sends
 * SIGHUP to the wrapper's PID, which is the server's once exec'd. It signals only a process named `server` (an
 * image's entrypoint still initialising dies of a SIGHUP; the next check tries again), and ends with the server.
 */
export function certificateReloadCheck(o: { cert: string; server: string; prepare?: string; log: string }): string[] {
  return [
    `(crt=$(cat ${o.cert})`,
    ` while sleep ${TLS_RENEWAL_CHECK_SECONDS} && kill -0 $$ 2>/dev/null; do`,
    `  new=$(cat ${o.cert}) && [ "$new" != "$crt" ] && [ "$(cat /proc/$$/comm)" = ${o.server} ] &&`,
    `   ${o.prepare ? `${o.prepare} && ` : ''}kill -HUP $$ && crt=$new && echo "${o.log}: renewed certificate loaded" >&2`,
    ' done',
    ' exit 0) &',
  ];
}
