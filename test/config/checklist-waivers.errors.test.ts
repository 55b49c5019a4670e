import { describe, expect, it } from 'vitest';
import { loadStack, parseStackFile, StackConfigError, WAIVABLE_IN_STAGING } from '../../infra/config/index.js';

const base = {
  'prism:domain': 'api.test.example.com',
  'prism:images': { tag: '1.2.3' },
  'prism:cluster': { apiServer: { cidrs: ['10.0.0.1/32'], port: 6443 } },
};
const waive = (notApplicable: Record<string, unknown>) => ({
  config: { ...base, 'prism:checklist': { notApplicable } },
});

function problems(stack: string, notApplicable: Record<string, unknown>): string[] {
  const file = `stacks/Pulumi.${stack}.yaml`;
  try {
    parseStackFile(waive(notApplicable), file, stack);
  } catch (e) {
    expect(e).toBeInstanceOf(StackConfigError);
    return [...(e as StackConfigError).problems];
  }
  throw new Error(`expected ${stack}'s waivers to be rejected`);
}

describe('production checklist items a stack declares not applicable', () => {
  it('a production stack may declare none, not even a waivable one', () => {
    expect(problems('prod', { 'on-call-rotation': 'nobody is paged for this one' })).toEqual([
      'prism:checklist.notApplicable.on-call-rotation: the prod stack must meet every checklist item; it may declare none not applicable',
    ]);
    expect(problems('prod-eu', { 'tls-all-endpoints': 'terminated by the cloud load balancer' })).toHaveLength(1);
  });

  it('staging may not waive a mandatory item, but may waive the listed ones', () => {
    expect(
      problems('staging', {
        'tls-all-endpoints': 'internal traffic is trusted here',
        'nats-durability': 'one JetStream server',
      }),
    ).toEqual([
      `prism:checklist.notApplicable.tls-all-endpoints: tls-all-endpoints is mandatory in staging; only ${[...WAIVABLE_IN_STAGING].join(', ')} may be declared not applicable`,
    ]);
    expect(
      parseStackFile(
        waive({ 'nats-durability': 'one JetStream server in staging' }),
        'stacks/Pulumi.staging.yaml',
        'staging',
      ).checklist.notApplicable,
    ).toEqual({
      'nats-durability': 'one JetStream server in staging',
    });
  });

  it('dev may waive any item, each with a reason', () => {
    const c = parseStackFile(
      waive({ 'tls-all-endpoints': 'self-signed, local cluster only' }),
      'stacks/Pulumi.dev.yaml',
      'dev',
    );
    expect(c.checklist.notApplicable['tls-all-endpoints']).toBe('self-signed, local cluster only');
  });

  it('an unknown item or a missing reason is refused', () => {
    const p = problems('dev', { 'tls-everywhere': 'a typo of an item', 'multiple-replicas': 'n/a' });
    expect(p.join('\n')).toMatch(/prism:checklist\.notApplicable.*tls-everywhere/);
    expect(p).toContain(
      'prism:checklist.notApplicable.multiple-replicas: expected the reason the item does not apply (at least 10 characters); found "n/a"',
    );
  });

  it("the repository's stacks: prod declares nothing; staging and dev give a reason for each", () => {
    expect(loadStack('stacks', 'prod').config.checklist.notApplicable).toEqual({});
    for (const env of ['dev', 'staging']) {
      const reasons = Object.values(loadStack('stacks', env).config.checklist.notApplicable);
      expect(reasons.length, env).toBeGreaterThan(0);
      for (const r of reasons) expect(r.length).toBeGreaterThanOrEqual(10);
    }
  });
});
