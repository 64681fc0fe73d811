import { ResourceEnvironment, Token, TokenComparison } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct, IDependable } from 'constructs';
import * as actions from './actions';
import { KeyPolicy } from './key-policy';

/*
 * How a planned grant lands: its statements in the key policy, returned as the
 * iam.Grant aws-cdk-lib constructs expect of a key.
 */

/** The key a grant is on. */
export interface GrantedKey extends IConstruct, IDependable {
  readonly env: ResourceEnvironment;
  readonly keyArn: string;
}

/**
 * Adds a grant's statements to the key policy. The returned grant has the
 * principal statement aws-cdk-lib constructs narrow (`grantAttachVolume` adds
 * conditions to it): it is not attached to the grantee, and what is added to it
 * narrows the key policy statements of the grant. A grantee in another account also
 * needs an identity policy there, which is added when the grantee is in this app.
 */
export function grantOnKey(
  key: GrantedKey, policy: KeyPolicy, grantee: iam.IGrantable, statements: iam.PolicyStatement[], identityPolicy = false,
): iam.Grant {
  const granted = actions.unique(statements.flatMap(s => s.actions));
  const recorder = new StatementRecorder(key);
  const mirror = iam.Grant.addToPrincipal({ grantee: { grantPrincipal: recorder }, actions: granted, resourceArns: [key.keyArn] });
  policy.narrowWith(recorder.statement!, statements.filter(s => s.effect === iam.Effect.ALLOW));
  const grants = [mirror, ...statements.map(statement => iam.Grant.addStatementToResourcePolicy({
    grantee, actions: statement.actions, resourceArns: [key.keyArn], resource: keyPolicyOf(key, policy), statement,
  }))];
  const principalAccount = grantee.grantPrincipal.principalAccount;
  if (identityPolicy || (principalAccount !== undefined
    && Token.compareStrings(principalAccount, key.env.account) === TokenComparison.DIFFERENT)) {
    grants.push(iam.Grant.addToPrincipal({ grantee, actions: granted, resourceArns: [key.keyArn] }));
  }
  return grants.reduce((all, g) => all.combine(g));
}

/** The key policy as a resource policy, for statements the grant methods have already checked. */
function keyPolicyOf(key: GrantedKey, policy: KeyPolicy): iam.IResourceWithPolicyV2 {
  return {
    env: key.env,
    addToResourcePolicy: (statement: iam.PolicyStatement) => {
      policy.document.addStatements(statement);
      return { statementAdded: true, policyDependable: key };
    },
  };
}

/**
 * A principal that keeps the identity statement a grant makes for it, so that the
 * grant has the principal statement aws-cdk-lib constructs expect, without an
 * identity policy: the key policy names the grantee.
 */
class StatementRecorder extends iam.PrincipalBase {
  public statement?: iam.PolicyStatement;
  public readonly policyFragment = new iam.PrincipalPolicyFragment({});

  constructor(private readonly dependable: IDependable) {
    super();
  }

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    this.statement = statement;
    return { statementAdded: true, policyDependable: this.dependable };
  }

  public dedupeString(): string | undefined {
    return undefined;
  }
}
