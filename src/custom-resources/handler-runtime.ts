import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, IConstruct } from 'constructs';

/*
 * The Node.js runtime of the library's functions, and the making of a handler's
 * function on it from its projen-generated class.
 */

/**
 * The context key that pins the Node.js runtime of the library's functions, as
 * `nodejs24.x`, where the newest one aws-cdk-lib knows is not yet offered (a partition
 * that gets runtimes later, say).
 */
export const HANDLER_RUNTIME_CONTEXT = '@cdk-kms-constructs/handler-runtime';

/** The oldest Node.js the handlers are bundled for (esbuild's `--target`). */
const OLDEST_HANDLER_NODE = 24;

/**
 * The Node.js runtime of the library's functions: the newest one the app's aws-cdk-lib
 * knows, as cdk-nag's AwsSolutions-L1 asks, so that a newer aws-cdk-lib moves the
 * functions to its newer runtime without a release of this library; or the one pinned
 * by the `@cdk-kms-constructs/handler-runtime` context key.
 */
export function handlerRuntime(scope: IConstruct): lambda.Runtime {
  const version = (runtime: lambda.Runtime) => Number(/^nodejs(\d+)\.x$/.exec(runtime.name)?.[1] ?? NaN);
  const known = lambda.Runtime.ALL.filter(runtime => runtime.family === lambda.RuntimeFamily.NODEJS && version(runtime) >= OLDEST_HANDLER_NODE);
  const pinned: unknown = scope.node.tryGetContext(HANDLER_RUNTIME_CONTEXT);
  if (pinned !== undefined) {
    const runtime = known.find(r => r.name === pinned);
    if (!runtime) {
      throw new Error(`context ${HANDLER_RUNTIME_CONTEXT} must name a Node.js runtime of Lambda from nodejs${OLDEST_HANDLER_NODE}.x on that aws-cdk-lib knows `
        + `(${known.map(r => r.name).join(', ')}), got ${JSON.stringify(pinned)}`);
    }
    return runtime;
  }
  if (known.length === 0) throw new Error(`aws-cdk-lib knows no Node.js runtime from nodejs${OLDEST_HANDLER_NODE}.x on: upgrade aws-cdk-lib`);
  return known.reduce((newest, runtime) => (version(runtime) > version(newest) ? runtime : newest));
}

/**
 * A function of a handler, made by its projen-generated class, on the runtime
 * `handlerRuntime` picks. Its code is the handler's esbuild bundle under `assets/`,
 * which a package of the library always has, and a clone of its repository only
 * after `npx projen bundle` (which every task that runs the library runs first).
 */
export function handlerFunction(
  make: (scope: Construct, id: string, options: lambda.FunctionOptions) => lambda.Function,
  scope: Construct, id: string, options: lambda.FunctionOptions,
): lambda.Function {
  let fn: lambda.Function;
  try {
    fn = make(scope, id, options);
  } catch (error) {
    if (error instanceof Error && /Cannot find asset/.test(error.message)) {
      throw new Error(`the bundled handler of ${scope.node.path}/${id} is missing: run "npx projen bundle" in the library's repository `
        + `(a fresh clone has no assets/ until then; compile, test, example, integ and bench bundle first). ${error.message}`);
    }
    throw error;
  }
  (fn.node.defaultChild as lambda.CfnFunction).runtime = handlerRuntime(scope).name;
  return fn;
}
