import { ResourceEnvironment, Token, TokenComparison } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { IConstruct, IDependable } from 'constructs';
import * as actions from './actions';
import { ClassificationRules, DataClassification } from './classification';
import { ConsumerNeeds } from './consumer-needs';
import { ConsumerRegistry } from './consumer-registry';
import { creationActions } from './consumers';
import { crossStackGrantee } from './cross-stack-grantee';
import { Grantee, granteeOf, GranteeKind, isPlainGrant, sessionArnOf, splitPrincipal } from './grantee';
import { targetOf } from './identity-grants';
import { grantOnKey } from './key-grant';
import { KeyPolicy } from './key-policy';
import { adminPrincipal, deployRoleArnFor } from './key-roles';
import { mergeConditions, samePrincipal } from './policy-conditions';
import { fleetGrantee, RolesUnderPath } from './roles-under-path';

/*
 * What a grant on a ClassifiedKey means, decided in one place: which kind of
 * principal it names (a role or user by name, an account's root, a service, a value
 * known only at deploy time), where that principal lives (this stack, another stack,
 * another account), whether it keeps administration and use apart, and which key
 * policy statements it becomes. The consumers of the key (the resources that name it)
 * are learned here too, through ConsumerNeeds, since what they need is a grant.
 */

/** The key a planner plans for: a ClassifiedKey. */
export interface PlannedKey extends IConstruct, IDependable {
  readonly env: ResourceEnvironment;
  readonly keyArn: string;
  readonly classification: DataClassification;
  readonly keySpec: kms.KeySpec;
  readonly keyUsage: kms.KeyUsage;
  readonly adminRole: iam.IRole;
}

/** What a planner knows of its key beyond the key's public attributes. */
export interface GrantPlannerProps {
  readonly policy: KeyPolicy;
  readonly rules: ClassificationRules;
  readonly profile: actions.UsageProfile;
  /** What the key's administrators may do. */
  readonly adminActions: string[];
  readonly allowAccountRootCryptography: boolean;
  /** Whether grants to every role under an IAM path are allowed: see RolesUnderPath. */
  readonly allowFleetGrants: boolean;
  /** The role that deploys the key's stack, when given. */
  readonly deployRole?: iam.IRole;
  /** Whether the key is a member of a multi-Region key set. */
  readonly multiRegion: boolean;
  /** The key's user role, once made. */
  userRole(): iam.IRole | undefined;
}

/** Decides what each grant on a key means, and refuses what it must not. */
export class GrantPlanner {
  /** Who administers the key: the admin role and every grantAdmin grantee. */
  private readonly administrators: iam.IPrincipal[] = [];
  /** Who uses the key: the user role, grantees, services, the deploy role for consumers. */
  private readonly users: iam.IPrincipal[] = [];
  /** The roles and users of the app the key policy names, and what for. */
  private readonly namedGrants = new Map<IConstruct, { use: Set<string>; admin: boolean }>();
  private deployPrincipal?: iam.IPrincipal;
  /** The fleets granted use, as `aws:PrincipalArn` patterns of the key's account. */
  public readonly fleetPatterns: string[] = [];
  private readonly consumerNeeds: ConsumerNeeds;

  constructor(private readonly key: PlannedKey, private readonly props: GrantPlannerProps) {
    this.consumerNeeds = new ConsumerNeeds(key, { ...props, grants: this });
  }

  /** Records an administrator the key policy already names (the admin role). */
  public addAdministrator(principal: iam.IPrincipal): void {
    this.administrators.push(principal);
    this.recordGrant(principal, 'admin');
  }

  /** Records a user the key policy already names (the user role). */
  public addUser(principal: iam.IPrincipal, granted: string[]): void {
    this.users.push(principal);
    this.recordGrant(principal, granted);
  }

  /** The administrators the separation denies name: by ARN, once each. */
  public separatedAdministrators(): iam.IPrincipal[] {
    return this.namedPrincipals(this.administrators.map(a => (a instanceof iam.Role ? adminPrincipal(a).principal : a)));
  }

  /** The users the separation denies name: by ARN, once each, the deploy role aside. */
  public separatedUsers(): iam.IPrincipal[] {
    return this.namedPrincipals(this.users.filter(u => u !== this.deployPrincipal), [GranteeKind.NAMED, GranteeKind.UNRESOLVED, GranteeKind.ACCOUNT]);
  }

  /**
   * Adds what the resources that name the key need and aws-cdk-lib grants nothing
   * for; returns what cannot be. See ConsumerNeeds.
   */
  public learnConsumers(consumers: ConsumerRegistry): string[] {
    return this.consumerNeeds.learn(consumers);
  }

  /**
   * Adds a statement given to the key's `addToResourcePolicy`. A plain grant, as
   * aws-cdk-lib's `KeyGrants` writes one, goes through grantAdmin or the usage grant
   * and their checks. Anything else is the escape hatch, added as given, except that
   * it may not allow every principal but some, give cryptography to an account's root
   * without the opt-in, cryptography to an administrator, nor administration to a user.
   */
  public addStatement(statement: iam.PolicyStatement): void {
    if (isPlainGrant(statement)) {
      const expanded = statement.actions.flatMap(a => actions.expandAction(a));
      const administrative = expanded.some(a => actions.ALL_ADMINISTRATIVE.includes(a));
      // KeyGrants.admin asks kms:Create*, which also matches CreateGrant: use is what
      // encrypts, decrypts, signs or derives.
      if (administrative && expanded.some(a => actions.ALL_CRYPTOGRAPHIC.includes(a) && a !== 'kms:CreateGrant')) {
        throw new Error(
          `addToResourcePolicy must not give one principal both administration and cryptography, got ${statement.actions.join(', ')} for ${statement.principals.join(', ')}: use grantAdmin and grant* for different principals`,
        );
      }
      for (const principal of statement.principals) {
        if (administrative) {
          this.grantAdmin({ grantPrincipal: principal });
        } else {
          this.grantUsage('grant', { grantPrincipal: principal }, actions.usageActionsOf(statement.actions, this.props.profile, this.key.keyUsage, this.key.keySpec));
        }
      }
      return;
    }
    if (statement.effect === iam.Effect.ALLOW) {
      const expanded = statement.actions.flatMap(a => actions.expandAction(a));
      const cryptographic = expanded.some(x => actions.ALL_CRYPTOGRAPHIC.includes(x));
      if (statement.notPrincipals.length > 0) {
        throw new Error(`addToResourcePolicy must not allow with NotPrincipal, got ${statement.notPrincipals.join(', ')}: it allows every principal but those`);
      }
      for (const principal of statement.principals) {
        const view = granteeOf(this.key, principal);
        this.assertPrincipalKind('addToResourcePolicy', principal, view);
        const mayBeRoot = view.kind === GranteeKind.ACCOUNT || view.kind === GranteeKind.UNRESOLVED;
        if (cryptographic && mayBeRoot && !this.props.allowAccountRootCryptography) {
          throw new Error(
            `addToResourcePolicy must not give cryptographic actions to ${view.kind === GranteeKind.ACCOUNT ? 'an account\'s root' : 'a principal whose ARN is known only at deploy time'} (${principal}) `
            + `on a ${this.key.classification} key${this.props.rules.rootCryptographyAllowed ? ' without allowAccountRootCryptography' : ''}: it would let every IAM principal of the account use the key; grant the roles that use it, by name`,
          );
        }
      }
      const admin = this.administrators.find(a => statement.principals.some(p => this.sameIdentity(p, a)));
      if (admin && cryptographic) {
        throw new Error(
          `addToResourcePolicy must not give cryptographic actions to ${this.describePrincipal(admin, this.key.adminRole, 'the admin role', 'a principal that administers the key')}, got ${statement.actions.join(', ')}`,
        );
      }
      const user = this.users.find(u => statement.principals.some(p => this.sameIdentity(p, u)));
      if (user && expanded.some(x => actions.ALL_ADMINISTRATIVE.includes(x))) {
        throw new Error(
          `addToResourcePolicy must not give administrative actions to ${this.describePrincipal(user, this.props.userRole(), 'the user role', 'a principal that uses the key')}, got ${statement.actions.join(', ')}`,
        );
      }
    }
    this.props.policy.document.addStatements(statement);
  }

  /**
   * Lets a principal administer the key: the same actions as the admin role, and
   * no cryptography. The user role cannot be made an administrator.
   */
  public grantAdmin(grantee: iam.IGrantable): iam.Grant {
    const principal = grantee.grantPrincipal;
    const parts = splitPrincipal(principal);
    if (parts.length > 1) return parts.map(part => this.grantAdmin({ grantPrincipal: part })).reduce((all, g) => all.combine(g));
    const user = this.users.find(u => this.sameIdentity(u, principal));
    if (user) {
      throw new Error(
        `grantAdmin must not be given ${this.describePrincipal(user, this.props.userRole(), 'the user role', 'a principal that uses the key')}: users of the key cannot administer it`,
      );
    }
    const view = granteeOf(this.key, principal);
    this.assertPrincipalKind('grantAdmin', principal, view);
    if (sessionArnOf(this.key, principal)) {
      throw new Error(`grantAdmin must be given a role, not one of its sessions, got ${principal}: a session's requests carry its role's ARN (aws:PrincipalArn), `
        + 'so the key policy cannot hold the session apart from the role; grant the role');
    }
    if (view.kind === GranteeKind.ACCOUNT || view.kind === GranteeKind.UNRESOLVED) {
      throw new Error(
        `grantAdmin must be given a role or user by name, got ${view.kind === GranteeKind.ACCOUNT ? 'an account\'s root' : 'a principal whose ARN is known only at deploy time'} (${principal}): `
        + 'administration through an account root reaches every IAM principal of the account that IAM allows kms:*; the account\'s root user and the deploy role manage the key already',
      );
    }
    const crossStack = crossStackGrantee(this.key, 'grantAdmin', principal, view);
    if (crossStack) {
      // Named by its literal ARN, as for use: see crossStackGrantee.
      this.administrators.push(new iam.ArnPrincipal(crossStack.arn));
      this.recordGrant(principal, 'admin', crossStack.target);
      const statements = this.props.policy.administrationStatements(crossStack.view.principal, this.props.rules.adminRequiresMfa, [crossStack.arn]);
      for (const statement of statements) statement.addConditions({ ArnEquals: { 'aws:PrincipalArn': crossStack.arn } });
      return grantOnKey(this.key, this.props.policy, grantee, statements, true);
    }
    this.administrators.push(principal);
    this.recordGrant(principal, 'admin');
    return grantOnKey(this.key, this.props.policy, grantee, this.props.policy.administrationStatements(principal, this.props.rules.adminRequiresMfa));
  }

  /**
   * Adds the grantee to the key policy, under the key's conditions, as the kind of
   * principal it is: see `KeyPolicy.usageStatements`, and `grantToAccount` for an
   * account root.
   */
  public grantUsage(method: string, grantee: iam.IGrantable, granted: string[]): iam.Grant {
    const principal = grantee.grantPrincipal;
    if (RolesUnderPath.isRolesUnderPath(principal)) return this.grantToFleet(method, grantee, principal, granted);
    // A composite principal is one grant per principal it names, each checked alone.
    const parts = splitPrincipal(principal);
    if (parts.length > 1) return parts.map(part => this.grantUsage(method, { grantPrincipal: part }, granted)).reduce((all, g) => all.combine(g));
    this.assertNotAdministrator(method, principal, granted);
    const view = granteeOf(this.key, principal);
    this.assertPrincipalKind(method, principal, view);
    switch (view.kind) {
      case GranteeKind.UNRESOLVED:
        if (!this.props.rules.rootCryptographyAllowed) {
          throw new Error(
            `${method} must be given a principal whose ARN is known at synth for a ${this.key.classification} key (a role or user of the app, or a literal role or user ARN), `
            + `got ${principal}: a value known only at deploy time (a parameter, an import) may be an account's root, which would let every IAM principal of the account use the key`,
          );
        }
        break;
      case GranteeKind.ACCOUNT:
        return this.grantToAccount(method, grantee, view, granted);
      case GranteeKind.SERVICE:
        this.users.push(principal);
        return grantOnKey(this.key, this.props.policy, grantee, this.props.policy.usageStatements(this.scopeService(view), granted));
      case GranteeKind.NAMED: {
        this.props.policy.assertNotManager(method, principal);
        this.assertOwnServices(method, view);
        const crossStack = crossStackGrantee(this.key, method, principal, view);
        if (crossStack) {
          this.users.push(new iam.ArnPrincipal(crossStack.arn));
          this.recordGrant(principal, granted, crossStack.target);
          return grantOnKey(this.key, this.props.policy, grantee, this.props.policy.usageStatements(crossStack.view, granted), true);
        }
        break;
      }
    }
    this.users.push(principal);
    this.recordGrant(principal, granted);
    return grantOnKey(this.key, this.props.policy, grantee, this.props.policy.usageStatements(view, granted));
  }

  /** Every role under an IAM path: one statement for the whole fleet, see RolesUnderPath. */
  private grantToFleet(method: string, grantee: iam.IGrantable, fleet: RolesUnderPath, granted: string[]): iam.Grant {
    const view = fleetGrantee(method, this.key, fleet, this.props.allowFleetGrants);
    const pattern = fleet.arnPatternIn(this.key);
    if (!this.fleetPatterns.includes(pattern)) this.fleetPatterns.push(pattern);
    return grantOnKey(this.key, this.props.policy, grantee, this.props.policy.usageStatements(view, granted));
  }

  /** Records which role or user of the app a grant names, and what for: see `unhonoured`. */
  private recordGrant(principal: iam.IPrincipal, actionsOrAdmin: string[] | 'admin', target?: IConstruct): void {
    const named = target ?? targetOf(principal.policyFragment.principalJson.AWS?.[0] ?? '');
    if (!named) return;
    const entry = this.namedGrants.get(named) ?? { use: new Set<string>(), admin: false };
    if (actionsOrAdmin === 'admin') entry.admin = true;
    else for (const action of actionsOrAdmin) entry.use.add(action);
    this.namedGrants.set(named, entry);
  }

  /**
   * What an identity policy allows a role, user or group on the key that the key
   * policy does not: reading the key's settings is delegated to IAM; everything else
   * only as the key policy names the principal.
   */
  public unhonoured(principal: IConstruct, allowed: string[]): string[] {
    const entry = principal instanceof iam.CfnGroup ? undefined : this.namedGrants.get(principal);
    return allowed.filter(action => !actions.SETTINGS_READS.includes(action)
      && !entry?.use.has(action) && !(entry?.admin && this.props.adminActions.includes(action)));
  }

  /**
   * A grant to an account's root lets every IAM principal of that account use the
   * key. It stands only for PUBLIC and INTERNAL keys that opt in with
   * `allowAccountRootCryptography`. Otherwise a grant to this account's root through
   * a service, as aws-cdk-lib consumers make for the resources they create (a
   * secret, a volume), becomes what creating the resource needs: the deploy role's
   * creation calls through that service. Users of the resource get the key by their
   * own grants, by name.
   */
  private grantToAccount(method: string, grantee: iam.IGrantable, view: Grantee, granted: string[]): iam.Grant {
    const otherAccount = view.account !== undefined
      && Token.compareStrings(view.account, this.key.env.account) === TokenComparison.DIFFERENT;
    if (this.props.allowAccountRootCryptography || (otherAccount && this.props.rules.rootCryptographyAllowed)) {
      return grantOnKey(this.key, this.props.policy, grantee, this.props.policy.usageStatements(view, granted));
    }
    if (otherAccount) {
      throw new Error(
        `${method} must not be given the root of account ${view.account} for a ${this.key.classification} key: grant the roles of that account that use the key, by name`,
      );
    }
    if (!view.viaServices || view.viaServices.length === 0) {
      throw new Error(
        `${method} must not be given the account root (${grantee.grantPrincipal}) for a ${this.key.classification} key${this.props.rules.rootCryptographyAllowed ? ' without allowAccountRootCryptography' : ''}: grant the roles that use the key, by name`,
      );
    }
    const deployer = this.deployRole();
    const statements = view.viaServices.flatMap(service => {
      const creation = creationActions(service);
      const actionsForCreation = creation ? granted.filter(a => creation.includes(a)) : granted;
      if (actionsForCreation.length === 0) return [];
      const creator: Grantee = {
        ...view, kind: GranteeKind.NAMED, principal: deployer, account: undefined, viaServices: [service], serviceContext: true,
      };
      return this.props.policy.usageStatements(creator, actionsForCreation);
    });
    if (statements.length === 0) return iam.Grant.drop(grantee, `${granted.join(', ')} through ${view.viaServices.join(', ')}`);
    return grantOnKey(this.key, this.props.policy, grantee, statements);
  }

  /** The principal that creates the key's consumers: `deployRole`, or the stack synthesizer's CloudFormation execution role. */
  public deployRole(): iam.IPrincipal {
    if (this.deployPrincipal) return this.deployPrincipal;
    const principal = this.props.deployRole?.grantPrincipal ?? new iam.ArnPrincipal(deployRoleArnFor(this.key, this.props.deployRole));
    this.assertNotAdministrator('deployRole', principal, ['the creation calls of the key\'s consumers']);
    this.users.push(principal);
    this.deployPrincipal = principal;
    return principal;
  }

  /** The principals named by ARN, which an explicit deny can name without touching others. */
  private namedPrincipals(principals: iam.IPrincipal[], kinds = [GranteeKind.NAMED]): iam.IPrincipal[] {
    const named = principals.map(p => granteeOf(this.key, p)).filter(g => kinds.includes(g.kind)).map(g => g.principal);
    return named.filter((p, i) => named.findIndex(q => samePrincipal(this.key, p, q)) === i);
  }

  /** Refuses what no key policy statement of the library names: every principal, or a kind KMS grants no use to. */
  private assertPrincipalKind(method: string, principal: iam.IPrincipal, view: Grantee): void {
    if (view.kind === GranteeKind.EVERYONE) {
      throw new Error(`${method} must not be given every principal (${principal}): the key policy names who may use the key`);
    }
    if (view.kind === GranteeKind.UNSUPPORTED) {
      throw new Error(
        `${method} must be given an AWS account, role, user or service principal, got ${principal}: key policies name federated and canonical-user principals for no use of the key`,
      );
    }
  }

  /**
   * Whether two principals are the same: the same object or policy JSON, or the same
   * literal ARN (an imported role of the admin role's ARN is the admin role).
   */
  private sameIdentity(a: iam.IPrincipal, b: iam.IPrincipal): boolean {
    if (samePrincipal(this.key, a, b)) return true;
    const arnA = this.literalArnOf(a);
    return arnA !== undefined && arnA === this.literalArnOf(b);
  }

  private literalArnOf(principal: iam.IPrincipal): string | undefined {
    const named = principal instanceof iam.Role ? adminPrincipal(principal) : undefined;
    const arn = granteeOf(this.key, named?.named ? named.principal : principal).arn;
    return arn === undefined || Token.isUnresolved(arn) ? undefined : arn;
  }

  private assertNotAdministrator(method: string, principal: iam.IPrincipal, granted: string[]): void {
    const admin = this.administrators.find(a => this.sameIdentity(a, principal));
    if (admin) {
      throw new Error(
        `${method} must not be given ${this.describePrincipal(admin, this.key.adminRole, 'the admin role', 'a principal that administers the key')}: administrators manage the key and cannot use it, got ${granted.join(', ')}`,
      );
    }
  }

  /**
   * A service principal of a CONFIDENTIAL or RESTRICTED key is scoped to resources
   * of the key's account when the grant does not scope it (`aws:SourceArn`,
   * `aws:SourceAccount`, an encryption context), as aws-cdk-lib's event targets do
   * not: `kms:ViaService` never applies to a service acting for itself.
   */
  private scopeService(view: Grantee): Grantee {
    if (this.props.rules.rootCryptographyAllowed) return view;
    const keys = Object.values(view.conditions).flatMap(values => Object.keys(values));
    const scoped = keys.some(k => ['aws:SourceArn', 'aws:SourceAccount', 'aws:SourceOrgID'].includes(k) || k.startsWith('kms:EncryptionContext:'));
    if (scoped) return view;
    return { ...view, conditions: mergeConditions(view.conditions, { StringEquals: { 'aws:SourceAccount': this.key.env.account } }) };
  }

  /** A grant made through a service keeps that service, which must be one the key allows. */
  private assertOwnServices(method: string, view: Grantee): void {
    const allowed = this.props.policy.viaServices;
    const foreign = (view.viaServices ?? []).filter(s => allowed !== undefined && !allowed.includes(s));
    if (foreign.length > 0) {
      throw new Error(
        `${method} was made through ${foreign.join(', ')}, which is not in the key's viaServices (${allowed!.join(', ')}): add it to viaServices or use another key`,
      );
    }
  }

  private describePrincipal(principal: iam.IPrincipal, role: iam.IRole | undefined, roleName: string, other: string): string {
    return role && samePrincipal(this.key, principal, role) ? `${roleName} ${role.node.path}` : `${other} (${principal})`;
  }

}
