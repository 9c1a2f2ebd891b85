#!/usr/bin/env node
// smtpd runs table-BACKEND with argv[1] = the path after `cloudtable:` in
// smtpd.conf. The table name (smtpd's argv[0]) is lost to the interpreter,
// but smtpd sends it again in the handshake.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await import('../cli.js');
await main([process.argv[0]!, process.argv[1]!, 'smtpd', ...process.argv.slice(2)]);
