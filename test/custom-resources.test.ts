import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { DataClassification } from '../src';
import { adoptedKeyStore } from './support/key-store';
import { ACCOUNT, REGION } from './support/stack';
import { HANDLER_RUNTIME_CONTEXT, handlerFunction } from '../src/custom-resources/handler-runtime';

/** A stack with a custom key store (a handler, its wait, three framework functions) and a key in it (a handler, one framework function). */
function storeStack(context?: Record<string, string>): Stack {
  const stack = new Stack(new App({ context }), 'Vault', { env: { account: ACCOUNT, region: REGION } });
  adoptedKeyStore(stack).addKey('Key', { classification: DataClassification.CONFIDENTIAL });
  return stack;
}

function runtimes(stack: Stack): string[] {
  return Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')).map(fn => fn.Properties.Runtime);
}

const nodeVersion = (name: string) => Number(/^nodejs(\d+)\.x$/.exec(name)?.[1] ?? NaN);

describe('the runtime of the library\'s functions', () => {
  test('every function, the handlers\' and the Provider framework\'s, runs on the newest Node.js runtime aws-cdk-lib knows', () => {
    // GIVEN the runtimes this aws-cdk-lib knows, read as cdk-nag's AwsSolutions-L1 reads them
    const newest = lambda.Runtime.ALL.map(r => r.name).filter(name => nodeVersion(name) > 0)
      .reduce((a, b) => (nodeVersion(b) > nodeVersion(a) ? b : a));

    // WHEN
    const all = runtimes(storeStack());

    // THEN
    expect(all).toHaveLength(7);
    expect(new Set(all)).toEqual(new Set([newest]));
  });

  describe('with a newer runtime than the bundles were built for', () => {
    // An aws-cdk-lib that knows a newer runtime registers it in Runtime.ALL.
    let newer: lambda.Runtime;
    beforeAll(() => {
      newer = new lambda.Runtime('nodejs98.x', lambda.RuntimeFamily.NODEJS);
    });
    afterAll(() => {
      lambda.Runtime.ALL.splice(lambda.Runtime.ALL.indexOf(newer), 1);
    });

    test('the functions move to it with no release of the library', () => {
      expect(new Set(runtimes(storeStack()))).toEqual(new Set(['nodejs98.x']));
    });

    test(`the ${HANDLER_RUNTIME_CONTEXT} context key pins an older one`, () => {
      expect(new Set(runtimes(storeStack({ [HANDLER_RUNTIME_CONTEXT]: 'nodejs24.x' })))).toEqual(new Set(['nodejs24.x']));
    });
  });

  test.each([
    ['a runtime older than the bundles', 'nodejs22.x'],
    ['another family', 'python3.13'],
    ['a runtime aws-cdk-lib does not know', 'nodejs97.x'],
  ])('fails when the context key names %s', (_case, runtime) => {
    expect(() => storeStack({ [HANDLER_RUNTIME_CONTEXT]: runtime }))
      .toThrow(`context ${HANDLER_RUNTIME_CONTEXT} must name a Node.js runtime of Lambda from nodejs24.x on that aws-cdk-lib knows`);
    expect(() => storeStack({ [HANDLER_RUNTIME_CONTEXT]: runtime })).toThrow(`got "${runtime}"`);
  });
});

describe('a handler whose bundle is missing', () => {
  test('fails naming the function and the task that makes the bundle', () => {
    // GIVEN a checkout where `npx projen bundle` has not run
    const stack = new Stack(new App(), 'Stack');
    const make = (scope: Construct, id: string, options: lambda.FunctionOptions) => new lambda.Function(scope, id, {
      ...options,
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromAsset('/nonexistent/assets/some-handler.lambda'),
    });

    // THEN
    expect(() => handlerFunction(make, stack, 'Handler', {}))
      .toThrow(/the bundled handler of Stack\/Handler is missing: run "npx projen bundle" in the library's repository/);
  });

  test('other errors pass through unchanged', () => {
    const stack = new Stack(new App(), 'Stack');
    expect(() => handlerFunction(() => {
      throw new Error('something else');
    }, stack, 'Handler', {})).toThrow(/^something else$/);
  });
});
