#!/usr/bin/env node
// The AWS SDK warns on every start under Node 20; the Lambda runtime is 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await import('../cli.js');
await main(process.argv);
