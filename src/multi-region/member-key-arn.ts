import { CfnResource, IResolvable, IResolveContext, Stack, Token } from 'aws-cdk-lib';
import { ClassifiedKey } from '../key/classified-key';
import { KEY_REFERENCE } from '../key/consumer-registry';

/*
 * A member's key ARN for a stack of the set's account and Regions, written from the
 * member of that stack's Region (MultiRegionKeySet.keyArnForRegion).
 */

/** How a member's key ARN is written in a stack of the set. */
export interface MemberKeyArnSpec {
  /** The member named. */
  readonly target: ClassifiedKey;
  /** Its key ARN up to the key ID. */
  readonly arnPrefix: string;
  /** The set's member in a stack's account and Region, if the set has one there. */
  readonly memberFor: (stack: Stack) => ClassifiedKey | undefined;
  /** The error for a stack outside the set. */
  readonly describe: (stack: Stack) => string;
}

/**
 * A member's key ARN, written in the stack that uses it from the member of that
 * stack's Region (the same key ID), and a reference the consumer registry records, so
 * that the member named learns the resource that names it.
 */
export class MemberKeyArn implements IResolvable {
  public readonly creationStack: string[] = [];
  public readonly [KEY_REFERENCE]: CfnResource;

  constructor(private readonly spec: MemberKeyArnSpec) {
    this[KEY_REFERENCE] = spec.target.node.defaultChild as CfnResource;
  }

  public resolve(context: IResolveContext): unknown {
    const stack = Stack.of(context.scope);
    const local = this.spec.memberFor(stack);
    if (!local) throw new Error(this.spec.describe(stack));
    return `${this.spec.arnPrefix}${local.keyId}`;
  }

  public toString(): string {
    return Token.asString(this);
  }
}
