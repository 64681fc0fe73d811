/*
 * A synthesized template's values as strings, for evaluating its policies offline:
 * pseudo parameters become the stack's account, Region and partition (or stand-ins
 * when the stack is environment-agnostic), a role's `Fn::GetAtt Arn` becomes its ARN
 * by its name (or logical ID), and other references become readable stand-ins that
 * match nothing a policy names.
 */

export type TemplateJson = { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** Where the template deploys. */
export interface TemplateEnvironment {
  readonly account: string;
  readonly region: string;
  readonly partition: string;
  /** The stack's name, with which CloudFormation names the roles it names. */
  readonly stackName: string;
}

/** Resolves the intrinsic functions of `value` to strings, as far as they can be known. */
export function resolveTemplateValue(value: unknown, template: TemplateJson, env: TemplateEnvironment): unknown {
  const resolve = (v: unknown): unknown => resolveTemplateValue(v, template, env);
  if (Array.isArray(value)) return value.map(resolve);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [fn, arg] = entries[0];
    switch (fn) {
      case 'Ref': return refOf(String(arg), template, env);
      case 'Fn::GetAtt': return getAtt([arg].flat().join('.'), template, env);
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown[]];
        return (resolve(parts) as unknown[]).map(String).join(separator);
      }
      case 'Fn::Sub': {
        const [text, variables] = typeof arg === 'string' ? [arg, {}] : arg as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => String(
          name in variables ? resolve(variables[name]) : name.includes('.') ? getAtt(name, template, env) : refOf(name, template, env)));
      }
      case 'Fn::Select': {
        const [index, list] = arg as [number, unknown];
        const items = resolve(list);
        return Array.isArray(items) ? items[Number(index)] : `<${JSON.stringify(value)}>`;
      }
      case 'Fn::Split': {
        const [separator, text] = arg as [string, unknown];
        return String(resolve(text)).split(separator);
      }
      case 'Fn::ImportValue': return `<import ${JSON.stringify(resolve(arg))}>`;
      // The value when the condition holds; the report names the principal as deploy-time.
      case 'Fn::If': return `<if ${JSON.stringify(resolve((arg as unknown[])[1]))}>`;
      case 'Fn::FindInMap':
      case 'Fn::GetAZs':
      case 'Fn::Base64':
        return `<${fn}>`;
      default:
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
}

function refOf(name: string, template: TemplateJson, env: TemplateEnvironment): string {
  switch (name) {
    case 'AWS::AccountId': return env.account;
    case 'AWS::Region': return env.region;
    case 'AWS::Partition': return env.partition;
    case 'AWS::URLSuffix': return env.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
    case 'AWS::StackName': return env.stackName;
    default: {
      const resource = template.Resources?.[name];
      const roleName = resource?.Type === 'AWS::IAM::Role' ? resource.Properties?.RoleName : undefined;
      if (typeof roleName === 'string') return roleName;
      // Many resources' Ref is their ARN (topics, ...): a stand-in that a policy naming it matches.
      return resource ? standIn(name, resource.Type, env) : `<${name}>`;
    }
  }
}

/** An ARN-shaped stand-in for a resource's reference, equal wherever the policy names it. */
function standIn(logicalId: string, type: string, env: TemplateEnvironment): string {
  const service = type.split('::')[1]?.toLowerCase() ?? 'resource';
  return `arn:${env.partition}:${service}:${env.region}:${env.account}:${logicalId}`;
}

function getAtt(attribute: string, template: TemplateJson, env: TemplateEnvironment): string {
  const [logicalId, name] = attribute.split('.');
  const resource = template.Resources?.[logicalId];
  const iam = { 'AWS::IAM::Role': ['role', 'RoleName'], 'AWS::IAM::User': ['user', 'UserName'] }[resource?.Type ?? ''];
  if (iam && name === 'Arn') {
    const given = resource!.Properties?.[iam[1]];
    const path = typeof resource!.Properties?.Path === 'string' ? resource!.Properties.Path : '/';
    // CloudFormation names a role or user without a name `<stack>-<logical ID>-<suffix>`.
    return `arn:${env.partition}:iam::${env.account}:${iam[0]}${path}${typeof given === 'string' ? given : `${env.stackName}-${logicalId}`}`;
  }
  return resource && name === 'Arn' ? standIn(logicalId, resource.Type, env) : `<${attribute}>`;
}
