// Unit tests — least privilege in the synthesized prod app: no function policy grants a DynamoDB or SQS
// wildcard; each function reaches exactly the tables (with the access) and queues the topology declares; each
// PostgreSQL function connects as its capability role through its own RDS Proxy secret; and every cdk-nag
// acknowledgement left in the app carries a written reason (a checker shown to catch one without).
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { databaseRoles, type FunctionSpec, functions } from '../../../infra/topology.ts';
import { capabilityRoles } from '../../../shared/inventory/role-logins.ts';
import { logicalIdOf, type Synthesized, synthesize } from './cdk-synth.ts';

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/** Acknowledgements in `scope` whose reason is missing or too short to say why. */
function acknowledgementsWithoutReason(scope: IConstruct): string[] {
  const bad: string[] = [];
  for (const node of scope.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
        if (typeof reason !== 'string' || reason.trim().length < 20) bad.push(`${node.node.path}: ${id}`);
      }
    }
  }
  return bad;
}

describe('CDK app: data access (env=prod)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize('prod', { bundle: false });
  }, 240_000);

  const names = Object.keys(functions) as (keyof typeof functions)[];
  const spec = (name: string) => functions[name as keyof typeof functions] as FunctionSpec;
  /** Every statement of the policies attached to the function's role. */
  const statementsOf = (name: string): Statement[] => {
    const fn = s.stacks.stateless.functions[name];
    if (!fn?.role) throw new Error(`no role for ${name}`);
    const roleId = logicalIdOf(fn.role);
    return Object.values(s.stateless.findResources('AWS::IAM::Policy')).flatMap((policy) => {
      const p = policy as {
        Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } };
      };
      return p.Properties.Roles.some((r) => r.Ref === roleId) ? p.Properties.PolicyDocument.Statement : [];
    });
  };
  const actionsOf = (st: Statement) => [st.Action].flat();
  const tableIds = () =>
    Object.fromEntries(Object.entries(s.stacks.stateful.tables).map(([t, table]) => [t, logicalIdOf(table)]));
  const queueIds = () =>
    Object.fromEntries(
      Object.entries(s.stacks.stateful.queues).map(([q, pair]) => [q, logicalIdOf(pair.queue)]),
    );
  const envOf = (name: string) => {
    const fn = s.stacks.stateless.functions[name];
    if (!fn) throw new Error(`no function ${name}`);
    const resource = s.stateless.toJSON().Resources[logicalIdOf(fn)];
    return resource.Properties.Environment.Variables as Record<string, unknown>;
  };

  it('grants no function a DynamoDB or SQS wildcard action, or a DynamoDB table wildcard', () => {
    for (const name of names) {
      for (const st of statementsOf(name)) {
        for (const action of actionsOf(st)) expect(action, name).not.toMatch(/^(\*|dynamodb:\*|sqs:\*)$/);
        if (actionsOf(st).some((a) => a.startsWith('dynamodb:'))) {
          const resource = JSON.stringify(st.Resource);
          expect(resource, name).not.toMatch(/table\/\*|"\*"/);
        }
      }
    }
  });

  it('gives each function exactly the tables it declares, and read-only access where it only reads', () => {
    const ids = tableIds();
    for (const name of names) {
      const declared = spec(name).tables ?? {};
      const dynamo = statementsOf(name).filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));
      const reached = Object.keys(ids).filter((t) =>
        dynamo.some((st) => JSON.stringify(st.Resource).includes(ids[t] as string)),
      );
      expect(reached.sort(), name).toEqual(Object.keys(declared).sort());
      for (const [table, access] of Object.entries(declared)) {
        const onTable = dynamo.filter((st) => JSON.stringify(st.Resource).includes(ids[table] as string));
        const writes = onTable
          .flatMap(actionsOf)
          .filter((a) => /PutItem|UpdateItem|DeleteItem|BatchWriteItem/.test(a));
        if (access === 'read') expect(writes, `${name} ${table}`).toEqual([]);
        else expect(writes.length, `${name} ${table}`).toBeGreaterThan(0);
      }
    }
    // Spot checks of the declarations themselves: the health probe reads one table, placement no dashboard data.
    expect(spec('health').tables).toEqual({ connections: 'read' });
    expect(Object.keys(spec('placement').tables ?? {})).not.toContain('credentials');
  });

  it('lets each function send only to the queues it declares', () => {
    const ids = queueIds();
    for (const name of names) {
      const sends = statementsOf(name).filter((st) => actionsOf(st).includes('sqs:SendMessage'));
      const reached = Object.keys(ids).filter((q) =>
        sends.some((st) => JSON.stringify(st.Resource).includes(ids[q] as string)),
      );
      expect(reached.sort(), name).toEqual([...(spec(name).sendsTo ?? [])].sort());
    }
  });

  it('connects each PostgreSQL function as its capability role, each role with its own rotated proxy secret', () => {
    expect([...databaseRoles].sort()).toEqual([...capabilityRoles].sort());
    for (const name of names) {
      const role = spec(name).dbRole;
      if (!spec(name).needs.includes('postgres')) {
        expect(role, name).toBeUndefined();
        continue;
      }
      const user = role === 'owner' ? s.stacks.stateful.postgres.user : role;
      expect(envOf(name).PG_USER, name).toBe(user);
      const connect = statementsOf(name).filter((st) => actionsOf(st).includes('rds-db:connect'));
      expect(
        connect.map((st) => JSON.stringify(st.Resource).match(/\/([a-z_]+)"\]\]\}$/)?.[1]),
        name,
      ).toEqual([user]);
    }
    // The ops functions are not the inventory writer, and only the migrations are the owner.
    expect(spec('opsApi').dbRole).toBe('vfleet_ops');
    expect(names.filter((name) => spec(name).dbRole === 'owner')).toEqual(['inventoryMigrate']);

    const proxy = Object.values(s.stateful.findResources('AWS::RDS::DBProxy'))[0] as {
      Properties: { Auth: { SecretArn: unknown; IAMAuth: string }[] };
    };
    const roleSecretIds = databaseRoles.map((role) =>
      logicalIdOf(s.stacks.stateful.postgres.roleSecrets[role] as IConstruct),
    );
    expect(proxy.Properties.Auth).toHaveLength(1 + databaseRoles.length);
    for (const id of roleSecretIds) {
      expect(
        proxy.Properties.Auth.some(
          (a) => JSON.stringify(a.SecretArn).includes(id) && a.IAMAuth === 'REQUIRED',
        ),
      ).toBe(true);
      const rotations = Object.values(
        s.stateful.findResources('AWS::SecretsManager::RotationSchedule'),
      ).filter((r) => JSON.stringify(r).includes(id));
      expect(rotations, id).toHaveLength(1);
    }
    // The deploy step reads every role's secret to set its login, and nothing else does.
    const migrateEnv = JSON.stringify(envOf('inventoryMigrate').PG_ROLE_SECRETS);
    for (const role of databaseRoles) expect(migrateEnv).toContain(role);
    for (const name of names.filter((n) => n !== 'inventoryMigrate')) {
      const reads = statementsOf(name).filter((st) =>
        roleSecretIds.some((id) => JSON.stringify(st.Resource).includes(id)),
      );
      expect(reads, name).toEqual([]);
    }
  });

  it('leaves no cdk-nag finding, and a written reason on every acknowledgement that remains', () => {
    expect(s.nagViolations).toEqual([]);
    expect(s.acknowledgements.length).toBeGreaterThan(10);
    expect(acknowledgementsWithoutReason(s.stacks.stateful)).toEqual([]);
    expect(acknowledgementsWithoutReason(s.stacks.stateless)).toEqual([]);
  });

  it('catches an acknowledgement made without a reason (the check above can fail)', () => {
    const app = new App();
    const queue = new Queue(new Stack(app, 'S'), 'Q');
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: '' });
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS4', reason: 'too short' });
    // CDK records the rule id with its own prefix (Annotation::…).
    expect(acknowledgementsWithoutReason(app).map((line) => line.replace('Annotation::', ''))).toEqual([
      'S/Q: AwsSolutions-SQS3',
      'S/Q: AwsSolutions-SQS4',
    ]);
  });
});
